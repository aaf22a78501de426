// The completion queue: librbd threads push, one uv_async_t wakes Node's loop, which delivers the batch to JavaScript.
#include "common.h"

namespace stgt_rbd {

void Queue::Push(const Entry& e) {
  bool wake;
  {
    std::lock_guard<std::mutex> lock(mu);
    wake = items.empty();
    items.push_back(e);
  }
  // uv_async_send coalesces anyway; sending only on the empty->non-empty edge saves the eventfd
  // write for every completion that lands while the loop has not drained yet. The drain swaps the
  // vector out under the same lock, so a push after it sees an empty queue and wakes again.
  if (wake) uv_async_send(&async);
}

static void OnAsync(uv_async_t* h) {
  auto* q = static_cast<Queue*>(h->data);
  if (q->owner != nullptr) q->owner->Drain();
}

Context::Context(Napi::Env env, Napi::Function handler, Napi::Float64Array batch, bool submitThread)
    : env_(env), async_(env, "stgt_rbd.completions"), queue_(new Queue()) {
  handler_ = Napi::Persistent(handler);
  batch_ = Napi::Persistent(batch);
  queue_->owner = this;
  queue_->async.data = queue_;
  uv_loop_t* loop = nullptr;
  napi_get_uv_event_loop(env, &loop);
  uv_async_init(loop, &queue_->async, OnAsync);
  // Idle contexts do not keep tgtd's loop alive; Started() refs it while AIO is in flight.
  uv_unref(reinterpret_cast<uv_handle_t*>(&queue_->async));
  queue_->items.reserve(256);
  spare_.reserve(256);
  if (submitThread) {
    submitter_ = new Submitter(queue_);
    queue_->submitter = submitter_;
  }
}

Context::~Context() { Close(); }

void Context::Started() {
  if (inflight_++ == 0 && !referenced_) {
    uv_ref(reinterpret_cast<uv_handle_t*>(&queue_->async));
    referenced_ = true;
  }
}

void Context::Close() {
  if (queue_ == nullptr) return;
  // The thread first submits what it holds (a refusal lands in the queue, which still exists).
  if (submitter_ != nullptr) {
    queue_->submitter = nullptr;
    delete submitter_;
    submitter_ = nullptr;
  }
  Queue* q = queue_;
  queue_ = nullptr;
  q->owner = nullptr;
  uv_close(reinterpret_cast<uv_handle_t*>(&q->async), [](uv_handle_t* h) { delete static_cast<Queue*>(h->data); });
}

void Context::Drain() {
  if (queue_ == nullptr) return;
  spare_.clear();
  {
    std::lock_guard<std::mutex> lock(queue_->mu);
    spare_.swap(queue_->items);
  }
  if (spare_.empty()) return;
  Napi::HandleScope scope(env_);
  Napi::Float64Array arr = batch_.Value();
  double* out = arr.Data();
  size_t at = 0;
  while (at < spare_.size()) {
    size_t n = std::min<size_t>(kBatch, spare_.size() - at);
    uint64_t done = 0;
    for (size_t i = 0; i < n; i++) {
      const Entry& e = spare_[at + i];
      out[i * kStride] = e.id;
      out[i * kStride + 1] = static_cast<double>(e.result);
      out[i * kStride + 2] = static_cast<double>(e.kind);
      if (e.kind == kIoDone) done++;
    }
    at += n;
    // Accounted before JavaScript runs: its callbacks may queue new I/O (which refs again).
    inflight_ -= done;
    if (inflight_ == 0 && referenced_) {
      uv_unref(reinterpret_cast<uv_handle_t*>(&queue_->async));
      referenced_ = false;
    }
    handler_.Value().MakeCallback(env_.Global(), {Napi::Number::New(env_, static_cast<double>(n))}, async_);
    if (env_.IsExceptionPending()) {
      // The JS dispatcher catches per callback; anything escaping it is a bug: report it as uncaught.
      Napi::Error err = env_.GetAndClearPendingException();
      napi_fatal_exception(env_, err.Value());
    }
    if (queue_ == nullptr) return;  // the handler closed the context
  }
}

}  // namespace stgt_rbd
