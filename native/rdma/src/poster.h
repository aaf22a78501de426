// Send-queue posting off the JavaScript thread (endpoint option postThread): one worker per endpoint.
//
// With a software RDMA device (rxe), ibv_post_send does the transport's work in the calling
// thread: the doorbell is a system call in which the kernel builds, checksums and transmits the
// packets (and, on one host, often receives them for the peer). Posted from Node's only thread
// that work serializes with everything else the event loop does. With postThread the post*
// methods queue the work request and return 0; a worker thread posts everything queued, chaining
// consecutive requests of one QP into a single ibv_post_send (one doorbell). A request the worker
// cannot post is reported to JavaScript as an error completion (status IBV_WC_GENERAL_ERR,
// vendor_err = the errno ibv_post_send returned) in a batch of its own, once per queued request.
// Anything that frees a QP or an MR first waits until nothing is queued (Quiesce).
#pragma once

#include <uv.h>

#include <infiniband/verbs.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <pthread.h>
#include <vector>

namespace stgt_rdma {

/** One queued post: up to two chained WRs (RDMA WRITE + Send) sharing one wr_id. */
struct PostEntry {
  ibv_qp* qp = nullptr;
  uint32_t conn = 0;
  int count = 0;
  ibv_send_wr wr[2];
  ibv_sge sge[2];
};

struct PostFailure {
  uint32_t conn;
  uint64_t wrId;
  int err;
};

class SendPoster {
 public:
  /** onFailures runs on the loop's thread whenever failures are waiting (TakeFailures). */
  SendPoster(uv_loop_t* loop, std::function<void()> onFailures);
  ~SendPoster();
  /** 0 or an errno (the thread or the async handle could not be created). */
  int Start();
  /** Posts what is queued, joins the worker, closes the async handle. Idempotent. */
  void Stop();
  /** Queue one entry (its pointers are rebuilt by the worker). */
  void Submit(const PostEntry& e);
  /** Returns once every submitted entry has been handed to ibv_post_send. */
  void Quiesce();
  std::vector<PostFailure> TakeFailures();

 private:
  void Run();
  void PostAll(std::vector<PostEntry>& work, std::vector<PostFailure>& fails);

  uv_loop_t* loop_;
  std::function<void()> onFailures_;
  uv_async_t* async_ = nullptr;
  pthread_t worker_{};
  std::mutex m_;
  std::condition_variable wake_;
  std::condition_variable idle_;
  std::vector<PostEntry> queue_;
  std::vector<PostFailure> failures_;
  bool busy_ = false;
  bool stop_ = false;
  bool started_ = false;
};

}  // namespace stgt_rdma
