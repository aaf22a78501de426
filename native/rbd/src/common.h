// Shared declarations of the librbd addon (addon interface v1): the completion queue, cluster and image handles.
//
// The JavaScript-facing contract is in module.cc and src/bs/rbd-addon.ts. Data-path calls
// (read, write, discard, flush) run on Node's loop thread and only queue librbd AIO; librbd
// completes them on its own threads, which append {id, result} to the context's queue and wake
// the loop through one uv_async_t. The loop drains the whole queue per wake-up and hands it to
// JavaScript in one call, so many completions cost one JS entry and no threadpool hop. Control
// calls that may block on the network (connect, open, close, size, shutdown) run as AsyncWorkers.
#pragma once

#include <napi.h>
#include <uv.h>

#include <rados/librados.h>
#include <rbd/librbd.h>

#include <sys/uio.h>

#include <condition_variable>
#include <cstdlib>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace stgt_rbd {

/** Which addon interface this binary speaks (src/bs/rbd-addon.ts RBD_ADDON_VERSION). */
constexpr uint32_t kAddonVersion = 1;

/** Entries of a delivered batch: doubles per completion in the shared Float64Array (id, result, kind). */
constexpr uint32_t kStride = 3;
/** Completions per JavaScript call (the shared array holds kBatch * kStride doubles). */
constexpr uint32_t kBatch = 1024;

/** What a queue entry reports. */
enum Kind : uint32_t {
  kIoDone = 0,        // an AIO finished: id is the caller's op id, result its return value
  kImageUpdated = 1,  // librbd saw a header update (resize, snapshot...): id is the image's token
};

struct Entry {
  double id;
  int64_t result;
  uint32_t kind;
};

class Context;
class Submitter;

/** The cross-thread part of a context: librbd threads push, the loop thread drains. */
struct Queue {
  std::mutex mu;
  std::vector<Entry> items;
  uv_async_t async;
  Context* owner = nullptr;
  /** The submission thread (submit.cc), or nullptr: data-path calls then submit on the loop thread. */
  Submitter* submitter = nullptr;

  /** Any thread: appends one entry and wakes the loop if the queue was empty. */
  void Push(const Entry& e);
};

/** What an AIO completion callback gets back: where to report, and the caller's op id. */
struct Op {
  Queue* queue;
  double id;
  /** A write's buffers gathered into one (GatherWrite), freed with the op, after librbd let go of it. */
  char* gathered = nullptr;
  ~Op() { std::free(gathered); }
};

/**
 * Queues a write of the concatenation of `iov` (io.cc). Several pieces are first copied into one
 * buffer the op owns: librbd copies each iovec of rbd_aio_writev into a buffer of its own, and a
 * 1 MiB SCSI write arrives as ~144 Data-Out segments of 8 KiB, whose fragments then cost librbd's
 * messenger and dispatch threads more than the one copy here costs (BENCHMARKS.md).
 */
int GatherWrite(rbd_image_t image, uint64_t offset, const struct iovec* iov, size_t n, rbd_completion_t c, Op* op);

/** One librbd call the submission thread makes. */
struct Request {
  enum Kind : uint8_t { kRead, kWrite, kDiscard, kFlush } kind;
  rbd_image_t image;
  uint64_t offset;
  uint64_t length;
  /** kRead: the one buffer; kWrite: the buffers (memory owned by JavaScript until the result). */
  std::vector<struct iovec> iov;
  Op* op;
};

/** The optional submission thread (submit.cc). Created and destroyed on the loop thread. */
class Submitter {
 public:
  explicit Submitter(Queue* completions);
  /** Submits what is pending, then joins the thread. */
  ~Submitter();
  /** Loop thread: queues one request. */
  void Push(Request&& r);

 private:
  void Run();
  void Submit(Request& r);
  Queue* completions_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Request> pending_;
  bool busy_ = false;
  bool stop_ = false;
  std::thread thread_;
};

/** One per store instance: the queue, the JS handler, in-flight accounting. Loop thread only (except queue). */
class Context {
 public:
  Context(Napi::Env env, Napi::Function handler, Napi::Float64Array batch, bool submitThread);
  ~Context();

  /** An AIO was queued: the loop must stay alive until it completes. */
  void Started();
  /** Drains the queue into JavaScript (uv_async callback). */
  void Drain();
  /** Closes the async handle; the queue is freed by uv_close's callback. Idempotent. */
  void Close();

  Queue* queue() { return queue_; }
  bool closed() const { return queue_ == nullptr; }

 private:
  Napi::Env env_;
  Napi::FunctionReference handler_;
  Napi::Reference<Napi::Float64Array> batch_;
  Napi::AsyncContext async_;
  Queue* queue_;
  std::vector<Entry> spare_;
  Submitter* submitter_ = nullptr;
  uint64_t inflight_ = 0;
  bool referenced_ = false;
};

/** A connected rados client (one per distinct cluster/id/conf/key in the store). */
struct ClusterHandle {
  rados_t cluster = nullptr;
};

/** One opened image (or snapshot) of one LU. */
struct ImageHandle {
  Queue* queue = nullptr;
  rados_ioctx_t ioctx = nullptr;
  rbd_image_t image = nullptr;
  uint64_t watch = 0;
  bool watching = false;
  double token = 0;
};

// control.cc
Napi::Value Connect(const Napi::CallbackInfo& info);
Napi::Value Shutdown(const Napi::CallbackInfo& info);
Napi::Value Open(const Napi::CallbackInfo& info);
Napi::Value Close(const Napi::CallbackInfo& info);
Napi::Value GetSize(const Napi::CallbackInfo& info);
Napi::Value Watch(const Napi::CallbackInfo& info);
Napi::Value MetaList(const Napi::CallbackInfo& info);
Napi::Value Extents(const Napi::CallbackInfo& info);
Napi::Value MetaSwap(const Napi::CallbackInfo& info);

// io.cc
Napi::Value Read(const Napi::CallbackInfo& info);
Napi::Value Write(const Napi::CallbackInfo& info);
Napi::Value Discard(const Napi::CallbackInfo& info);
Napi::Value Flush(const Napi::CallbackInfo& info);

// module.cc
Context* UnwrapContext(const Napi::Value& v);
ImageHandle* UnwrapImage(const Napi::Value& v);
ClusterHandle* UnwrapCluster(const Napi::Value& v);

}  // namespace stgt_rbd
