// A readable watch on one accepted socket and recv(MSG_PEEK): how `tgtd --workers` reads the first Login PDU in the main thread without taking its bytes (docs/multicore.md "Routing a new connection").
//
// The bytes stay in the kernel's receive queue, so the worker that gets the descriptor reads the
// whole stream from its first byte and nothing is handed over but the fd number.
//
// JS interface (exported beside Listener):
//   new ReadWatch(fd, onReadable())  watches nothing yet; never closes fd (the caller owns it)
//   watch.start() -> 0 | -errno      uv_poll_start(UV_READABLE); onReadable() at each readiness
//                                    (level-triggered: data left unread fires again)
//   watch.stop()                     uv_poll_stop, which takes the fd out of this loop's epoll at once
//                                    (libuv's uv__platform_invalidate_fd), so another loop may watch it
//   watch.peek(buffer) -> n | -errno recv(fd, buffer, MSG_PEEK | MSG_DONTWAIT); 0 is the peer's FIN
//   watch.close()                    stops and releases the poll handle; idempotent
// While started the watch keeps the loop alive (and itself from collection).
#include <errno.h>
#include <sys/socket.h>
#include <uv.h>

#include <memory>

#include <napi.h>

namespace stgt_io {
namespace {

class ReadWatch;

/** The uv handle, heap-allocated: libuv may touch it until its close callback, after the watch is gone. */
struct PollBox {
  uv_poll_t poll;
  ReadWatch* owner = nullptr;
};

class ReadWatch : public Napi::ObjectWrap<ReadWatch> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "ReadWatch",
                       {
                           InstanceMethod<&ReadWatch::Start>("start"),
                           InstanceMethod<&ReadWatch::Stop>("stop"),
                           InstanceMethod<&ReadWatch::Peek>("peek"),
                           InstanceMethod<&ReadWatch::Close>("close"),
                       });
  }

  explicit ReadWatch(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ReadWatch>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "ReadWatch(fd, onReadable)").ThrowAsJavaScriptException();
      return;
    }
    fd_ = info[0].As<Napi::Number>().Int32Value();
    if (fd_ < 0) {
      Napi::RangeError::New(env, "ReadWatch: fd < 0").ThrowAsJavaScriptException();
      return;
    }
    onReadable_ = Napi::Persistent(info[1].As<Napi::Function>());
    async_ = std::make_unique<Napi::AsyncContext>(env, "stgt_io.ReadWatch");
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      initErr_ = -EINVAL;
      return;
    }
    auto* box = new PollBox();
    const int r = uv_poll_init(loop, &box->poll, fd_);
    if (r != 0) {
      delete box;  // uv_poll_init failing leaves no handle to close
      initErr_ = r;
      return;
    }
    box->owner = this;
    box->poll.data = box;
    box_ = box;
    napi_add_env_cleanup_hook(env, &ReadWatch::EnvCleanup, this);
    hooked_ = true;
  }

  ~ReadWatch() override {
    if (hooked_) napi_remove_env_cleanup_hook(Env(), &ReadWatch::EnvCleanup, this);
    Release(false);
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (box_ == nullptr) return Napi::Number::New(env, initErr_ != 0 ? initErr_ : -EBADF);
    if (started_) return Napi::Number::New(env, 0);
    const int r = uv_poll_start(&box_->poll, UV_READABLE, &ReadWatch::OnPoll);
    if (r != 0) return Napi::Number::New(env, r);
    started_ = true;
    Ref();
    return Napi::Number::New(env, 0);
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopPoll(true);
    return info.Env().Undefined();
  }

  Napi::Value Peek(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsBuffer()) {
      Napi::TypeError::New(env, "peek(buffer)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    ssize_t n;
    do {
      n = recv(fd_, buf.Data(), buf.Length(), MSG_PEEK | MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return Napi::Number::New(env, n < 0 ? -errno : static_cast<double>(n));
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Release(true);
    return info.Env().Undefined();
  }

  void StopPoll(bool unref) {
    if (!started_ || box_ == nullptr) return;
    uv_poll_stop(&box_->poll);
    started_ = false;
    if (unref) Unref();
  }

  /** Stops watching and lets libuv free the handle; `unref`: drop the reference start() took (not from a destructor). */
  void Release(bool unref) {
    StopPoll(unref);
    PollBox* box = box_;
    if (box == nullptr) return;
    box_ = nullptr;
    box->owner = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(&box->poll), [](uv_handle_t* h) { delete static_cast<PollBox*>(h->data); });
  }

  static void OnPoll(uv_poll_t* p, int /*status*/, int /*events*/) {
    // An error status (the socket reset) is reported through the next peek(), which returns it.
    PollBox* box = static_cast<PollBox*>(p->data);
    if (box->owner == nullptr) return;
    box->owner->Fire();
  }

  void Fire() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    onReadable_.MakeCallback(Value(), {}, *async_);
    if (env.IsExceptionPending()) {
      // A throw out of the callback is the caller's bug: surface it as Node would.
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  static void EnvCleanup(void* arg) {
    auto* self = static_cast<ReadWatch*>(arg);
    self->hooked_ = false;
    self->onReadable_.Reset();
    self->Release(false);
  }

  int fd_ = -1;
  int initErr_ = 0;
  bool started_ = false;
  bool hooked_ = false;
  PollBox* box_ = nullptr;
  Napi::FunctionReference onReadable_;
  std::unique_ptr<Napi::AsyncContext> async_;
};

}  // namespace

Napi::Function DefineReadWatch(Napi::Env env) { return ReadWatch::Define(env); }

}  // namespace stgt_io
