// The data path: read, write, discard and flush queue librbd AIO from the loop thread; results come back through the queue.
//
// Each call returns 0 when the AIO was queued (its result arrives later as {id, result}) or a
// negative errno when librbd refused it at once (nothing will arrive for that id). The caller keeps
// every Buffer it passed alive until the id's result arrives: librbd reads into and writes from
// that memory directly, and the addon holds no reference of its own.
#include <sys/uio.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace stgt_rbd {

void OnAioComplete(rbd_completion_t c, void* arg) {
  Op* op = static_cast<Op*>(arg);
  // For a discard this is the byte count, for a read the bytes read; negative is -errno.
  int64_t r = rbd_aio_get_return_value(c);
  rbd_aio_release(c);
  op->queue->Push(Entry{op->id, r, kIoDone});
  delete op;
}

namespace {

/** Common argument checks; returns the image or nullptr (a TypeError is then pending). */
ImageHandle* ImageArg(const Napi::CallbackInfo& info, size_t argc) {
  if (info.Length() < argc) {
    Napi::TypeError::New(info.Env(), "wrong number of arguments").ThrowAsJavaScriptException();
    return nullptr;
  }
  ImageHandle* h = UnwrapImage(info[0]);
  if (h == nullptr || h->image == nullptr || h->queue == nullptr) {
    Napi::TypeError::New(info.Env(), "not an open image").ThrowAsJavaScriptException();
    return nullptr;
  }
  return h;
}

bool NumberArg(const Napi::CallbackInfo& info, size_t i, double* out) {
  if (!info[i].IsNumber()) {
    Napi::TypeError::New(info.Env(), "expected a number").ThrowAsJavaScriptException();
    return false;
  }
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > 9007199254740991.0) {
    Napi::RangeError::New(info.Env(), "offset or length out of range").ThrowAsJavaScriptException();
    return false;
  }
  *out = v;
  return true;
}

/** Creates the completion for op id `id`; on failure returns the errno and allocates nothing. */
int MakeCompletion(ImageHandle* h, double id, rbd_completion_t* c, Op** op) {
  *op = new Op{h->queue, id};
  int r = rbd_aio_create_completion(*op, OnAioComplete, c);
  if (r < 0) {
    delete *op;
    *op = nullptr;
  }
  return r;
}

/** With a submission thread: hands it the request; the result (or a refusal) comes through the queue. */
Napi::Value Queued(const Napi::CallbackInfo& info, ImageHandle* h, Request&& q, double id) {
  q.image = h->image;
  q.op = new Op{h->queue, id};
  h->queue->submitter->Push(std::move(q));
  if (h->queue->owner != nullptr) h->queue->owner->Started();
  return Napi::Number::New(info.Env(), 0);
}

Napi::Value Submitted(const Napi::CallbackInfo& info, ImageHandle* h, int r, rbd_completion_t c, Op* op) {
  if (r < 0) {
    rbd_aio_release(c);
    delete op;
  } else if (h->queue->owner != nullptr) {
    h->queue->owner->Started();
  }
  return Napi::Number::New(info.Env(), r < 0 ? r : 0);
}

}  // namespace

// read(image, offset, buffer, id): fills buffer.length bytes at offset (holes read as zeros).
Napi::Value Read(const Napi::CallbackInfo& info) {
  ImageHandle* h = ImageArg(info, 4);
  double off, id;
  if (h == nullptr || !NumberArg(info, 1, &off) || !NumberArg(info, 3, &id)) return info.Env().Undefined();
  if (!info[2].IsBuffer()) {
    Napi::TypeError::New(info.Env(), "expected a Buffer").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto buf = info[2].As<Napi::Buffer<char>>();
  if (h->queue->submitter != nullptr) {
    return Queued(info, h, Request{Request::kRead, nullptr, static_cast<uint64_t>(off), buf.Length(), {{buf.Data(), buf.Length()}}, nullptr}, id);
  }
  rbd_completion_t c;
  Op* op;
  int r = MakeCompletion(h, id, &c, &op);
  if (r < 0) return Napi::Number::New(info.Env(), r);
  r = rbd_aio_read(h->image, static_cast<uint64_t>(off), buf.Length(), buf.Data(), c);
  return Submitted(info, h, r, c, op);
}

// write(image, offset, buffers[], id): writes the concatenation of the buffers at offset.
Napi::Value Write(const Napi::CallbackInfo& info) {
  ImageHandle* h = ImageArg(info, 4);
  double off, id;
  if (h == nullptr || !NumberArg(info, 1, &off) || !NumberArg(info, 3, &id)) return info.Env().Undefined();
  if (!info[2].IsArray()) {
    Napi::TypeError::New(info.Env(), "expected an array of Buffers").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
  auto arr = info[2].As<Napi::Array>();
  uint32_t n = arr.Length();
  struct iovec small[16];
  std::vector<struct iovec> big;
  struct iovec* iov = small;
  if (n > 16) {
    big.resize(n);
    iov = big.data();
  }
  for (uint32_t i = 0; i < n; i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsBuffer()) {
      Napi::TypeError::New(info.Env(), "expected an array of Buffers").ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    auto b = v.As<Napi::Buffer<char>>();
    iov[i].iov_base = b.Data();
    iov[i].iov_len = b.Length();
  }
  if (h->queue->submitter != nullptr) {
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) total += iov[i].iov_len;
    return Queued(info, h, Request{Request::kWrite, nullptr, static_cast<uint64_t>(off), total, std::vector<struct iovec>(iov, iov + n), nullptr}, id);
  }
  rbd_completion_t c;
  Op* op;
  int r = MakeCompletion(h, id, &c, &op);
  if (r < 0) return Napi::Number::New(info.Env(), r);
  r = GatherWrite(h->image, static_cast<uint64_t>(off), iov, n, c, op);
  return Submitted(info, h, r, c, op);
}

int GatherWrite(rbd_image_t image, uint64_t offset, const struct iovec* iov, size_t n, rbd_completion_t c, Op* op) {
  // The memory handed to librbd stays until the completion: the caller's Buffers (held by the
  // JavaScript side) or op->gathered (freed with the op). librbd may keep a reference to it until
  // then when zero-copy writes are on (rbd_disable_zero_copy_writes = false, no cache).
  if (n == 1) return rbd_aio_write(image, offset, iov[0].iov_len, static_cast<const char*>(iov[0].iov_base), c);
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += iov[i].iov_len;
  char* p = static_cast<char*>(std::malloc(total == 0 ? 1 : total));
  if (p == nullptr) return -ENOMEM;
  op->gathered = p;
  for (size_t i = 0; i < n; i++) {
    std::memcpy(p, iov[i].iov_base, iov[i].iov_len);
    p += iov[i].iov_len;
  }
  return rbd_aio_write(image, offset, total, op->gathered, c);
}

// discard(image, offset, length, id): deallocates so the range reads back as zeros; the result is
// the byte count on success. rbd_aio_discard would leave the parts of the range that do not cover
// whole discard-granularity units (64 KiB by default) as they were (rbd_skip_partial_discard), which
// breaks SCSI's "unmapped blocks read as zeros" (LBPRZ); write_zeroes deallocates the whole objects
// of the range and zeroes the partial ones.
Napi::Value Discard(const Napi::CallbackInfo& info) {
  ImageHandle* h = ImageArg(info, 4);
  double off, len, id;
  if (h == nullptr || !NumberArg(info, 1, &off) || !NumberArg(info, 2, &len) || !NumberArg(info, 3, &id)) return info.Env().Undefined();
  if (h->queue->submitter != nullptr) {
    return Queued(info, h, Request{Request::kDiscard, nullptr, static_cast<uint64_t>(off), static_cast<uint64_t>(len), {}, nullptr}, id);
  }
  rbd_completion_t c;
  Op* op;
  int r = MakeCompletion(h, id, &c, &op);
  if (r < 0) return Napi::Number::New(info.Env(), r);
  r = rbd_aio_write_zeroes(h->image, static_cast<uint64_t>(off), static_cast<uint64_t>(len), c, 0, 0);
  return Submitted(info, h, r, c, op);
}

// flush(image, id): every write completed before it is durable in the cluster when it completes.
Napi::Value Flush(const Napi::CallbackInfo& info) {
  ImageHandle* h = ImageArg(info, 2);
  double id;
  if (h == nullptr || !NumberArg(info, 1, &id)) return info.Env().Undefined();
  if (h->queue->submitter != nullptr) return Queued(info, h, Request{Request::kFlush, nullptr, 0, 0, {}, nullptr}, id);
  rbd_completion_t c;
  Op* op;
  int r = MakeCompletion(h, id, &c, &op);
  if (r < 0) return Napi::Number::New(info.Env(), r);
  r = rbd_aio_flush(h->image, c);
  return Submitted(info, h, r, c, op);
}

}  // namespace stgt_rbd
