// The optional submission thread: read/write/discard/flush calls queue a request here and one addon thread hands the requests to librbd.
//
// rbd_aio_* does part of librbd's work in the calling thread (dispatch layers, object mapping,
// locking; 18-34 us per 4 KiB read measured on Node's loop thread). With the thread, the loop only
// appends {op, image, offset, buffers} under a mutex and wakes the thread on the empty->non-empty
// edge; the thread takes the whole list and submits it while the loop goes on with iSCSI work.
// A request librbd refuses comes back through the completion queue like any result, as -errno.
// The caller keeps the buffers alive until the op's result arrives, as without the thread.
#include "common.h"

namespace stgt_rbd {

void OnAioComplete(rbd_completion_t c, void* arg);

Submitter::Submitter(Queue* completions) : completions_(completions), thread_([this] { Run(); }) {}

Submitter::~Submitter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void Submitter::Push(Request&& r) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu_);
    wake = pending_.empty() && !busy_;
    pending_.push_back(std::move(r));
  }
  if (wake) cv_.notify_one();
}

void Submitter::Run() {
  std::vector<Request> work;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    busy_ = false;
    cv_.wait(lock, [this] { return stop_ || !pending_.empty(); });
    if (pending_.empty()) return;  // stop_ and nothing left
    busy_ = true;
    work.clear();
    work.swap(pending_);
    lock.unlock();
    for (Request& q : work) Submit(q);
    lock.lock();
  }
}

void Submitter::Submit(Request& q) {
  rbd_completion_t c;
  int r = rbd_aio_create_completion(q.op, OnAioComplete, &c);
  if (r >= 0) {
    switch (q.kind) {
      case Request::kRead:
        r = rbd_aio_read(q.image, q.offset, q.length, static_cast<char*>(q.iov[0].iov_base), c);
        break;
      case Request::kWrite:
        r = GatherWrite(q.image, q.offset, q.iov.data(), q.iov.size(), c, q.op);
        break;
      case Request::kDiscard:
        r = rbd_aio_write_zeroes(q.image, q.offset, q.length, c, 0, 0);
        break;
      case Request::kFlush:
        r = rbd_aio_flush(q.image, c);
        break;
    }
    if (r >= 0) return;
    rbd_aio_release(c);
  }
  // Refused: the result goes the way a completion would (the loop already counted the op as started).
  completions_->Push(Entry{q.op->id, r, kIoDone});
  delete q.op;
}

}  // namespace stgt_rbd
