// The Endpoint object (provider interface v2): libuv watches of the CM and CQ channels, JS dispatch, close.
//
// createEndpoint(handlers, options) returns one of these. Event integration (iser.md E5): the RDMA
// CM event channel fd and each device's CQ completion channel fd are non-blocking and watched with
// uv_poll_t on Node's own loop, so nothing busy-polls and no thread is involved. On readiness the
// CM channel is drained and handlers.onCmEvents(events) is called once with every event read; a
// CQ is polled until empty, re-armed with ibv_req_notify_cq and polled once more (a completion
// that lands between the last poll and the re-arm would otherwise raise no event), and
// handlers.onCompletions(batch) is called once per batch of at most `batchSize` completions.
//
// Handlers run through MakeCallback (so promise jobs queued by them run after each batch, as for
// any I/O callback); an exception thrown by a handler becomes an 'uncaughtException'. A handler may
// call any method, including close(): the drain loops check for that after every call into JS.
// While open, the endpoint keeps the event loop alive and is strongly referenced; close() releases
// everything (conns, QPs, MRs, CQs, channels, PDs, the polls).
#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace stgt_rdma {

Napi::Value ThrowErrno(Napi::Env env, const char* call, int err) {
  Napi::Error e = Napi::Error::New(env, std::string(call) + ": " + std::strerror(err));
  e.Set("errno", Napi::Number::New(env, err));
  e.Set("syscall", Napi::String::New(env, call));
  e.ThrowAsJavaScriptException();
  return env.Undefined();
}

uint32_t OptU32(const Napi::Object& o, const char* key, uint32_t def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : def;
}

std::vector<uint8_t> BytesOf(const Napi::Value& v) {
  if (!v.IsTypedArray()) return {};
  Napi::TypedArray t = v.As<Napi::TypedArray>();
  const uint8_t* base = static_cast<const uint8_t*>(t.ArrayBuffer().Data()) + t.ByteOffset();
  return std::vector<uint8_t>(base, base + t.ByteLength());
}

Napi::Function Endpoint::Define(Napi::Env env) {
  return DefineClass(env, "RdmaEndpoint",
                     {
                         InstanceMethod("close", &Endpoint::Close),
                         InstanceMethod("listen", &Endpoint::Listen),
                         InstanceMethod("connect", &Endpoint::Connect),
                         InstanceMethod("createQp", &Endpoint::CreateQp),
                         InstanceMethod("accept", &Endpoint::Accept),
                         InstanceMethod("reject", &Endpoint::Reject),
                         InstanceMethod("disconnect", &Endpoint::Disconnect),
                         InstanceMethod("destroy", &Endpoint::Destroy),
                         InstanceMethod("registerPool", &Endpoint::RegisterPool),
                         InstanceMethod("deregisterPool", &Endpoint::DeregisterPool),
                         InstanceMethod("postRecv", &Endpoint::PostRecv),
                         InstanceMethod("postSend", &Endpoint::PostSend),
                         InstanceMethod("postRdmaWrite", &Endpoint::PostRdmaWrite),
                         InstanceMethod("postRdmaRead", &Endpoint::PostRdmaRead),
                         InstanceMethod("postRdmaWriteSend", &Endpoint::PostRdmaWriteSend),
                         InstanceAccessor("devices", &Endpoint::Devices, nullptr),
                         InstanceAccessor("closed", &Endpoint::IsClosed, nullptr),
                     });
}

// new RdmaEndpoint(handlers, options?) — options: { batchSize = 64, cqSize = 4096, postThread = false }.
Endpoint::Endpoint(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Endpoint>(info) {
  Napi::Env env = info.Env();
  if (!info[0].IsObject()) {
    Napi::TypeError::New(env, "createEndpoint(handlers): handlers must be an object").ThrowAsJavaScriptException();
    return;
  }
  Napi::Object h = info[0].As<Napi::Object>();
  bool postThread = false;
  Napi::Value onCm = h.Get("onCmEvents");
  Napi::Value onWc = h.Get("onCompletions");
  if (!onCm.IsFunction() || !onWc.IsFunction()) {
    Napi::TypeError::New(env, "createEndpoint(handlers): handlers.onCmEvents and handlers.onCompletions must be functions")
        .ThrowAsJavaScriptException();
    return;
  }
  if (info[1].IsObject()) {
    Napi::Object o = info[1].As<Napi::Object>();
    batchMax_ = OptU32(o, "batchSize", batchMax_);
    cqSize_ = OptU32(o, "cqSize", cqSize_);
    if (batchMax_ == 0 || batchMax_ > 4096) batchMax_ = 64;
    if (cqSize_ == 0) cqSize_ = 4096;
    postThread = o.Get("postThread").ToBoolean().Value();
  }
  handlers_ = Napi::Persistent(h);
  onCm_ = Napi::Persistent(onCm.As<Napi::Function>());
  onWc_ = Napi::Persistent(onWc.As<Napi::Function>());

  // The completion batch: typed arrays allocated once and rewritten in place for every batch,
  // so a batch costs one JS call and one property store, not an object per completion.
  Napi::Float64Array ids = Napi::Float64Array::New(env, batchMax_);
  Napi::Int32Array fields = Napi::Int32Array::New(env, static_cast<size_t>(batchMax_) * kWcStride);
  wcIds_ = ids.Data();
  wcFields_ = fields.Data();
  Napi::Object batch = Napi::Object::New(env);
  batch.Set("count", Napi::Number::New(env, 0));
  batch.Set("wrId", ids);
  batch.Set("fields", fields);
  batch_ = Napi::Persistent(batch);
  async_ = std::make_unique<Napi::AsyncContext>(env, "stgt_rdma.Endpoint");

  cm_ = rdma_create_event_channel();
  if (cm_ == nullptr) {
    ThrowErrno(env, "rdma_create_event_channel", errno);
    return;
  }
  int err = OpenDevices();
  if (err != 0) {
    const int e = err;
    Shutdown();
    ThrowErrno(env, "open RDMA devices", e);
    return;
  }
  cmPoller_ = Watch(cm_->fd, -1);
  if (cmPoller_ == nullptr) {
    Shutdown();
    ThrowErrno(env, "uv_poll_init", EINVAL);
    return;
  }
  if (postThread) {
    uv_loop_t* loop = nullptr;
    napi_get_uv_event_loop(env, &loop);
    poster_ = std::make_unique<SendPoster>(loop, [this] { DeliverPostFailures(); });
    const int e = loop != nullptr ? poster_->Start() : EINVAL;
    if (e != 0) {
      Shutdown();
      ThrowErrno(env, "start the posting thread", e);
      return;
    }
  }
  Ref();  // alive while open, like a listening socket
}

Endpoint::~Endpoint() { Shutdown(); }

static void OnPoll(uv_poll_t* h, int status, int /*events*/) {
  Poller* p = static_cast<Poller*>(h->data);
  if (status < 0 || p->owner == nullptr) return;
  p->owner->OnReadable(p);
}

Poller* Endpoint::Watch(int fd, int device) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0) return nullptr;
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(Env(), &loop) != napi_ok || loop == nullptr) return nullptr;
  Poller* p = new Poller();
  p->owner = this;
  p->device = device;
  p->handle.data = p;
  if (uv_poll_init(loop, &p->handle, fd) != 0) {
    delete p;
    return nullptr;
  }
  uv_poll_start(&p->handle, UV_READABLE, OnPoll);
  return p;
}

// uv_poll_stop removes the fd from epoll at once, so the fd may be closed right after; the handle
// itself is freed only in uv_close's callback.
void Endpoint::Unwatch(Poller*& p) {
  if (p == nullptr) return;
  p->owner = nullptr;
  uv_poll_stop(&p->handle);
  uv_close(reinterpret_cast<uv_handle_t*>(&p->handle), [](uv_handle_t* h) { delete static_cast<Poller*>(h->data); });
  p = nullptr;
}

void Endpoint::OnReadable(Poller* p) {
  if (closed_) return;
  if (p->device < 0) DrainCm();
  else DrainCq(p->device);
}

void Endpoint::CallHandler(Napi::FunctionReference& fn, Napi::Value arg) {
  Napi::Env env = Env();
  dispatching_ = true;
  fn.MakeCallback(handlers_.Value(), {arg}, *async_);
  dispatching_ = false;
  if (env.IsExceptionPending()) {
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
  }
}

Conn* Endpoint::FindConn(const Napi::Value& v) {
  if (!v.IsNumber()) return nullptr;
  auto it = conns_.find(v.As<Napi::Number>().Uint32Value());
  return it == conns_.end() ? nullptr : it->second.get();
}

Pool* Endpoint::FindPool(const Napi::Value& v) {
  if (!v.IsNumber()) return nullptr;
  auto it = pools_.find(v.As<Napi::Number>().Uint32Value());
  return it == pools_.end() ? nullptr : it->second.get();
}

// Order matters: QPs before their cm ids, MRs before PDs, acked CQ events before the CQ, CQs
// before their completion channels, and every uv poll stopped before its fd is closed.
void Endpoint::Shutdown() {
  if (closed_) return;
  closed_ = true;
  // Everything queued is posted, then the worker ends: no thread touches a QP freed below.
  if (poster_ != nullptr) {
    poster_->Stop();
    poster_.reset();
  }
  Unwatch(cmPoller_);
  for (Device& d : devices_) Unwatch(d.poller);
  for (auto& [h, c] : conns_) {
    (void)h;
    if (c->id != nullptr) {
      if (c->id->qp != nullptr) rdma_destroy_qp(c->id);
      rdma_destroy_id(c->id);
      c->id = nullptr;
    }
  }
  conns_.clear();
  byQp_.clear();
  for (auto& [h, p] : pools_) {
    (void)h;
    for (ibv_mr* mr : p->mrs)
      if (mr != nullptr) ibv_dereg_mr(mr);
    p->mrs.clear();
  }
  pools_.clear();
  CloseDevices();
  if (cm_ != nullptr) {
    rdma_destroy_event_channel(cm_);
    cm_ = nullptr;
  }
  if (!onCm_.IsEmpty()) {
    onCm_.Reset();
    onWc_.Reset();
    handlers_.Reset();
  }
}

Napi::Value Endpoint::Close(const Napi::CallbackInfo& info) {
  if (!closed_) {
    Shutdown();
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value Endpoint::IsClosed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), closed_); }

Napi::Value Endpoint::Devices(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, devices_.size());
  for (size_t i = 0; i < devices_.size(); i++) {
    const Device& d = devices_[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", Napi::String::New(env, d.name));
    o.Set("maxQpWr", Napi::Number::New(env, d.attr.max_qp_wr));
    o.Set("maxSge", Napi::Number::New(env, d.attr.max_sge));
    o.Set("maxCqe", Napi::Number::New(env, d.attr.max_cqe));
    o.Set("maxQpRdAtom", Napi::Number::New(env, d.attr.max_qp_rd_atom));
    o.Set("maxQpInitRdAtom", Napi::Number::New(env, d.attr.max_qp_init_rd_atom));
    out.Set(static_cast<uint32_t>(i), o);
  }
  return out;
}

}  // namespace stgt_rdma
