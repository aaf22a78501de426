// The endpoint's posting thread (see poster.h): queue, worker loop, chaining per QP, failure delivery.
#include "poster.h"

#include <cerrno>

namespace stgt_rdma {

SendPoster::SendPoster(uv_loop_t* loop, std::function<void()> onFailures)
    : loop_(loop), onFailures_(std::move(onFailures)) {
  queue_.reserve(256);
}

SendPoster::~SendPoster() { Stop(); }

int SendPoster::Start() {
  async_ = new uv_async_t();
  async_->data = this;
  if (uv_async_init(loop_, async_, [](uv_async_t* h) {
        auto* self = static_cast<SendPoster*>(h->data);
        if (self != nullptr) self->onFailures_();
      }) != 0) {
    delete async_;
    async_ = nullptr;
    return EINVAL;
  }
  // The endpoint keeps the loop alive while open; this handle must not on its own.
  uv_unref(reinterpret_cast<uv_handle_t*>(async_));
  // pthread rather than std::thread: the addon is built without C++ exceptions.
  const int rc = pthread_create(&worker_, nullptr, [](void* self) -> void* {
    static_cast<SendPoster*>(self)->Run();
    return nullptr;
  }, this);
  if (rc != 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
    return rc;
  }
  started_ = true;
  return 0;
}

void SendPoster::Stop() {
  if (started_) {
    {
      std::lock_guard<std::mutex> lk(m_);
      stop_ = true;
    }
    wake_.notify_one();
    pthread_join(worker_, nullptr);
    started_ = false;
  }
  if (async_ != nullptr) {
    async_->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(async_), [](uv_handle_t* h) { delete reinterpret_cast<uv_async_t*>(h); });
    async_ = nullptr;
  }
}

void SendPoster::Submit(const PostEntry& e) {
  bool wasEmpty;
  {
    std::lock_guard<std::mutex> lk(m_);
    wasEmpty = queue_.empty();
    queue_.push_back(e);
  }
  // A worker that is posting picks the new entry up when it looks again; only an idle one needs waking.
  if (wasEmpty) wake_.notify_one();
}

void SendPoster::Quiesce() {
  if (!started_) return;
  std::unique_lock<std::mutex> lk(m_);
  idle_.wait(lk, [this] { return queue_.empty() && !busy_; });
}

std::vector<PostFailure> SendPoster::TakeFailures() {
  std::lock_guard<std::mutex> lk(m_);
  std::vector<PostFailure> out;
  out.swap(failures_);
  return out;
}

void SendPoster::Run() {
  std::vector<PostEntry> work;
  work.reserve(256);
  std::vector<PostFailure> fails;
  std::unique_lock<std::mutex> lk(m_);
  for (;;) {
    wake_.wait(lk, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) break;  // stop_ with nothing left
    work.swap(queue_);
    busy_ = true;
    lk.unlock();
    PostAll(work, fails);
    work.clear();
    lk.lock();
    busy_ = false;
    bool report = false;
    if (!fails.empty()) {
      failures_.insert(failures_.end(), fails.begin(), fails.end());
      fails.clear();
      report = true;
    }
    if (queue_.empty()) idle_.notify_all();
    if (report && async_ != nullptr) uv_async_send(async_);
  }
  busy_ = false;
  idle_.notify_all();
}

// Consecutive entries of one QP become one chain and one ibv_post_send; on failure, the entry
// holding the refused WR and every later entry of that chain are reported (the earlier ones went).
void SendPoster::PostAll(std::vector<PostEntry>& work, std::vector<PostFailure>& fails) {
  const size_t n = work.size();
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j + 1 < n && work[j + 1].qp == work[i].qp) j++;
    for (size_t k = i; k <= j; k++) {
      PostEntry& e = work[k];
      for (int w = 0; w < e.count; w++) {
        e.wr[w].sg_list = e.wr[w].num_sge > 0 ? &e.sge[w] : nullptr;
        e.wr[w].next = w + 1 < e.count ? &e.wr[w + 1] : (k < j ? &work[k + 1].wr[0] : nullptr);
      }
    }
    ibv_send_wr* bad = nullptr;
    const int rc = ibv_post_send(work[i].qp, &work[i].wr[0], &bad);
    if (rc != 0) {
      size_t first = i;
      for (size_t k = i; k <= j; k++) {
        PostEntry& e = work[k];
        if (bad == &e.wr[0] || (e.count > 1 && bad == &e.wr[1])) {
          first = k;
          break;
        }
      }
      for (size_t k = first; k <= j; k++) fails.push_back({work[k].conn, work[k].wr[work[k].count - 1].wr_id, rc});
    }
    i = j + 1;
  }
}

}  // namespace stgt_rdma
