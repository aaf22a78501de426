// tgtd's own accept loop for iSCSI/TCP portals (interface v1): a listening socket watched by a uv_poll_t on Node's loop, accept4 until EAGAIN.
//
// Why it exists (docs/multicore.md): a socket that net.Server accepts is read into a new 64 KiB
// buffer per read and its fd cannot be had; an fd accepted here can be wrapped with
// `new net.Socket({ fd, onread })` (a reused buffer), and could be handed to another thread.
//
// JS interface:
//   new Listener(onAccept(fd, peerAddress, peerPort, localAddress, localPort), onError(errno))
//   listener.listen(address, port, v6only, backlog) -> 0 or -errno (socket, bind or listen failed;
//     nothing is left open); address is numeric (the caller resolves names as net.Server does)
//   listener.port -> the bound port (for port 0)
//   listener.close(callback)   stops accepting, closes the socket, then calls back once
// Everything runs on the thread of the env that created it; nothing blocks.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <napi.h>

namespace stgt_io {

Napi::Function DefineReadWatch(Napi::Env env);  // src/peek.cc

namespace {

constexpr uint32_t kAddonVersion = 1;
/** Accepts per readiness callback before yielding to the loop (the fd stays readable: level-triggered). */
constexpr int kAcceptBatch = 64;
/** Out of descriptors or memory: stop watching for this long instead of spinning on a readable fd. */
constexpr uint64_t kBackoffMs = 100;

class Listener;

/** uv handles of one listener; heap-allocated and freed by uv_close's callbacks (libuv may touch them until then). */
struct Handles {
  uv_poll_t poll;
  uv_timer_t timer;
  Listener* owner = nullptr;   // while listening
  Listener* closer = nullptr;  // to notify when both are closed (a JS close(), not env teardown)
  int open = 0;                // handles initialised (1: the timer, 2: the timer and the poll)
  int pending = 0;             // uv_close callbacks still to come
};

/** Node's text for an address (inet_ntop; IPv6 scope as %ifname, like uv_ip6_name + scope). */
std::string AddressText(const sockaddr_storage& ss, int* port) {
  char buf[INET6_ADDRSTRLEN + IF_NAMESIZE + 2] = "";
  *port = 0;
  if (ss.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, buf, sizeof buf);
    *port = ntohs(a->sin_port);
  } else if (ss.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, buf, sizeof buf);
    *port = ntohs(a->sin6_port);
    if (a->sin6_scope_id != 0) {
      char ifname[IF_NAMESIZE] = "";
      std::string s(buf);
      s += '%';
      if (if_indextoname(a->sin6_scope_id, ifname) != nullptr) s += ifname;
      else s += std::to_string(a->sin6_scope_id);
      return s;
    }
  }
  return buf;
}

class Listener : public Napi::ObjectWrap<Listener> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Listener",
                       {
                           InstanceMethod<&Listener::Listen>("listen"),
                           InstanceMethod<&Listener::Close>("close"),
                           InstanceAccessor<&Listener::Port>("port"),
                           InstanceAccessor<&Listener::Fd>("fd"),
                       });
  }

  explicit Listener(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Listener>(info) {
    Napi::Env env = info.Env();
    if (!info[0].IsFunction() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "Listener(onAccept, onError): two functions").ThrowAsJavaScriptException();
      return;
    }
    onAccept_ = Napi::Persistent(info[0].As<Napi::Function>());
    onError_ = Napi::Persistent(info[1].As<Napi::Function>());
    async_ = std::make_unique<Napi::AsyncContext>(env, "stgt_io.Listener");
    napi_add_env_cleanup_hook(env, &Listener::EnvCleanup, this);
  }

  ~Listener() override {
    napi_remove_env_cleanup_hook(Env(), &Listener::EnvCleanup, this);
    Shutdown();
  }

 private:
  Napi::Value Listen(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString() || !info[1].IsNumber() || !info[2].IsBoolean() || !info[3].IsNumber()) {
      Napi::TypeError::New(env, "listen(address, port, v6only, backlog)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (fd_ >= 0 || handles_ != nullptr) return Napi::Number::New(env, -EINVAL);
    const std::string host = info[0].As<Napi::String>().Utf8Value();
    const int port = info[1].As<Napi::Number>().Int32Value();
    const bool v6only = info[2].As<Napi::Boolean>().Value();
    const int backlog = info[3].As<Napi::Number>().Int32Value();
    if (port < 0 || port > 65535) return Napi::Number::New(env, -EINVAL);

    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    addrinfo* res = nullptr;
    const std::string service = std::to_string(port);
    if (getaddrinfo(host.c_str(), service.c_str(), &hints, &res) != 0 || res == nullptr) {
      return Napi::Number::New(env, -EINVAL);
    }
    const int err = Open(res, v6only, backlog);
    freeaddrinfo(res);
    if (err != 0) return Napi::Number::New(env, -err);

    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      CloseFd();
      return Napi::Number::New(env, -EINVAL);
    }
    handles_ = new Handles();
    handles_->owner = this;
    handles_->poll.data = handles_;
    handles_->timer.data = handles_;
    if (uv_timer_init(loop, &handles_->timer) != 0) {
      delete handles_;
      handles_ = nullptr;
      CloseFd();
      return Napi::Number::New(env, -ENOMEM);
    }
    handles_->open = 1;
    const int pe = uv_poll_init(loop, &handles_->poll, fd_);
    if (pe != 0) {
      ReleaseHandles(false);
      CloseFd();
      return Napi::Number::New(env, pe);
    }
    handles_->open = 2;
    uv_poll_start(&handles_->poll, UV_READABLE, &Listener::OnPoll);
    Ref();  // alive while listening, like a net.Server
    return Napi::Number::New(env, 0);
  }

  /** socket + SO_REUSEADDR (+ IPV6_V6ONLY) + bind + listen, as libuv does for net.Server; 0 or errno. */
  int Open(const addrinfo* ai, bool v6only, int backlog) {
    const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return errno;
    const int on = 1;
    int err = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) err = errno;
    if (err == 0 && ai->ai_family == AF_INET6) {
      const int only = v6only ? 1 : 0;
      if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &only, sizeof only) != 0) err = errno;
    }
    if (err == 0 && bind(fd, ai->ai_addr, ai->ai_addrlen) != 0) err = errno;
    if (err == 0 && listen(fd, backlog) != 0) err = errno;
    if (err != 0) {
      close(fd);
      return err;
    }
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0) AddressText(ss, &port_);
    fd_ = fd;
    return 0;
  }

  Napi::Value Port(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), port_); }
  Napi::Value Fd(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), fd_); }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info[0].IsFunction()) closeCb_ = Napi::Persistent(info[0].As<Napi::Function>());
    if (handles_ == nullptr) {
      // Never listened, or closed already: nothing to wait for.
      CloseFd();
      if (!closeCb_.IsEmpty()) {
        Napi::Function cb = closeCb_.Value();
        closeCb_.Reset();
        cb.MakeCallback(env.Global(), {}, *async_);
      }
      return env.Undefined();
    }
    Shutdown(true);
    return env.Undefined();
  }

  /** Stop watching, close the socket, release the handles; `notify`: call the JS close callback when libuv is done. */
  void Shutdown(bool notify = false) {
    CloseFd();
    ReleaseHandles(notify);
  }

  void CloseFd() {
    if (handles_ != nullptr && handles_->open == 2) uv_poll_stop(&handles_->poll);
    if (handles_ != nullptr) uv_timer_stop(&handles_->timer);
    if (fd_ >= 0) close(fd_);  // after uv_poll_stop: epoll no longer has it
    fd_ = -1;
  }

  void ReleaseHandles(bool notify) {
    Handles* h = handles_;
    if (h == nullptr) return;
    handles_ = nullptr;
    h->owner = nullptr;
    h->closer = notify ? this : nullptr;
    h->pending = h->open;
    if (h->open >= 2) uv_close(reinterpret_cast<uv_handle_t*>(&h->poll), &Listener::OnHandleClosed);
    if (h->open >= 1) uv_close(reinterpret_cast<uv_handle_t*>(&h->timer), &Listener::OnHandleClosed);
    if (h->open == 0) delete h;
  }

  static void OnHandleClosed(uv_handle_t* uh) {
    Handles* h = static_cast<Handles*>(uh->data);
    if (--h->pending > 0) return;
    Listener* self = h->closer;
    delete h;
    if (self != nullptr) self->Closed();
  }

  /** Every handle is closed: the JS close callback, and the listener may be collected again. */
  void Closed() {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (!closeCb_.IsEmpty()) {
      Napi::Function cb = closeCb_.Value();
      closeCb_.Reset();
      cb.MakeCallback(Value(), {}, *async_);
      CheckException();
    }
    Unref();
  }

  static void OnPoll(uv_poll_t* p, int status, int /*events*/) {
    Handles* h = static_cast<Handles*>(p->data);
    if (h->owner == nullptr) return;
    h->owner->Drain(status);
  }

  static void OnTimer(uv_timer_t* t) {
    Handles* h = static_cast<Handles*>(t->data);
    if (h->owner == nullptr || h->owner->fd_ < 0) return;
    uv_poll_start(&h->poll, UV_READABLE, &Listener::OnPoll);
  }

  void Drain(int status) {
    if (status < 0) {
      Report(-status);
      return;
    }
    for (int i = 0; i < kAcceptBatch && fd_ >= 0; i++) {
      sockaddr_storage peer{};
      socklen_t plen = sizeof peer;
      const int c = accept4(fd_, reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (c < 0) {
        const int e = errno;
        if (e == EAGAIN || e == EWOULDBLOCK) return;
        if (e == EINTR || e == ECONNABORTED || e == EPROTO || e == ENETDOWN || e == ENOPROTOOPT || e == EHOSTDOWN ||
            e == ENONET || e == EHOSTUNREACH || e == EOPNOTSUPP || e == ENETUNREACH) {
          continue;  // accept(2): that connection is gone, or a network error to retry; the next one may be fine
        }
        if (e == EMFILE || e == ENFILE || e == ENOBUFS || e == ENOMEM) {
          // The pending connections stay in the backlog; try again later instead of spinning.
          if (handles_ != nullptr) {
            uv_poll_stop(&handles_->poll);
            uv_timer_start(&handles_->timer, &Listener::OnTimer, kBackoffMs, 0);
          }
        }
        Report(e);
        return;
      }
      sockaddr_storage local{};
      socklen_t llen = sizeof local;
      int lport = 0;
      int pport = 0;
      std::string laddr;
      if (getsockname(c, reinterpret_cast<sockaddr*>(&local), &llen) == 0) laddr = AddressText(local, &lport);
      const std::string paddr = AddressText(peer, &pport);
      Napi::Env env = Env();
      Napi::HandleScope scope(env);
      onAccept_.MakeCallback(Value(),
                             {Napi::Number::New(env, c), Napi::String::New(env, paddr), Napi::Number::New(env, pport),
                              Napi::String::New(env, laddr), Napi::Number::New(env, lport)},
                             *async_);
      if (CheckException()) return;
    }
  }

  void Report(int err) {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    onError_.MakeCallback(Value(), {Napi::Number::New(env, -err)}, *async_);
    CheckException();
  }

  /** A throw out of a callback is a bug of the caller's: surface it as Node would, never swallow it. */
  bool CheckException() {
    Napi::Env env = Env();
    if (!env.IsExceptionPending()) return false;
    Napi::Error e = env.GetAndClearPendingException();
    napi_fatal_exception(env, e.Value());
    return true;
  }

  static void EnvCleanup(void* arg) {
    Listener* self = static_cast<Listener*>(arg);
    self->closeCb_.Reset();
    self->Shutdown();
  }

  Napi::FunctionReference onAccept_;
  Napi::FunctionReference onError_;
  Napi::FunctionReference closeCb_;
  std::unique_ptr<Napi::AsyncContext> async_;
  Handles* handles_ = nullptr;
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("addonVersion", Napi::Number::New(env, kAddonVersion));
  exports.Set("Listener", Listener::Define(env));
  exports.Set("ReadWatch", DefineReadWatch(env));  // src/peek.cc (tgtd --workers)
  return exports;
}

}  // namespace stgt_io

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return stgt_io::Init(env, exports); }
NODE_API_MODULE(stgt_io, InitModule)
