// RDMA CM side of the endpoint: listen, connect, accept/reject/disconnect/destroy and CM event conversion (rdma_cm(7)).
//
// A connection is a number handle (1, 2, ...; never reused within an endpoint) naming one
// rdma_cm_id; 0 never names one. Passive side: 'connect-request' carries a new handle; the caller
// may createQp(conn, caps), post receives, then accept(conn, params) (accept creates the QP if
// createQp was not called), as tgt's iser.c does, so a receive is posted before the initiator can
// send. Active side: connect() resolves the address and the route; on ROUTE_RESOLVED the QP is
// created and 'route-resolved' is delivered, and rdma_connect is issued right after that
// onCmEvents call returns, so receives posted in the handler precede the peer's first Send.
// Every event is acked before JS sees it (destroy inside a handler cannot deadlock on an unacked
// event).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cerrno>
#include <cstring>

#include "common.h"

namespace stgt_rdma {

namespace {

bool ParseAddr(const std::string& text, uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    return true;
  }
  if (inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    return true;
  }
  return false;
}

void SetAddr(Napi::Env env, Napi::Object o, const char* addrKey, const char* portKey, const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = "";
  uint16_t port = 0;
  if (sa != nullptr && sa->sa_family == AF_INET) {
    const auto* s = reinterpret_cast<const sockaddr_in*>(sa);
    inet_ntop(AF_INET, &s->sin_addr, buf, sizeof buf);
    port = ntohs(s->sin_port);
  } else if (sa != nullptr && sa->sa_family == AF_INET6) {
    const auto* s = reinterpret_cast<const sockaddr_in6*>(sa);
    inet_ntop(AF_INET6, &s->sin6_addr, buf, sizeof buf);
    port = ntohs(s->sin6_port);
  }
  o.Set(addrKey, Napi::String::New(env, buf));
  o.Set(portKey, Napi::Number::New(env, port));
}

const char* EventName(rdma_cm_event_type t) {
  switch (t) {
    case RDMA_CM_EVENT_CONNECT_REQUEST: return "connect-request";
    case RDMA_CM_EVENT_ESTABLISHED: return "established";
    case RDMA_CM_EVENT_DISCONNECTED: return "disconnected";
    case RDMA_CM_EVENT_TIMEWAIT_EXIT: return "timewait-exit";
    case RDMA_CM_EVENT_REJECTED: return "rejected";
    case RDMA_CM_EVENT_DEVICE_REMOVAL: return "device-removal";
    case RDMA_CM_EVENT_ADDR_CHANGE: return "addr-change";
    case RDMA_CM_EVENT_ADDR_ERROR:
    case RDMA_CM_EVENT_ROUTE_ERROR:
    case RDMA_CM_EVENT_UNREACHABLE:
    case RDMA_CM_EVENT_CONNECT_ERROR: return "unreachable";
    default: return nullptr;
  }
}

// conn_param options shared by accept() and connect(): { privateData, responderResources,
// initiatorDepth, retryCount, rnrRetryCount }. Linux ib_iser sends responder_resources = the
// device's max_qp_rd_atom, initiator_depth 1, retry 7, rnr_retry 6 (iser.md E1); the caller decides.
void ReadConnParam(const Napi::Object& o, rdma_conn_param* p, std::vector<uint8_t>* data) {
  *data = BytesOf(o.Get("privateData"));
  std::memset(p, 0, sizeof *p);
  p->responder_resources = static_cast<uint8_t>(OptU32(o, "responderResources", 1));
  p->initiator_depth = static_cast<uint8_t>(OptU32(o, "initiatorDepth", 1));
  p->retry_count = static_cast<uint8_t>(OptU32(o, "retryCount", 7));
  p->rnr_retry_count = static_cast<uint8_t>(OptU32(o, "rnrRetryCount", 6));
  p->flow_control = 1;
}

QpCaps ReadCaps(const Napi::Object& o) {
  QpCaps c;
  c.sendDepth = OptU32(o, "sendDepth", c.sendDepth);
  c.recvDepth = OptU32(o, "recvDepth", c.recvDepth);
  c.maxSge = OptU32(o, "maxSge", c.maxSge);
  c.maxInline = OptU32(o, "maxInline", c.maxInline);
  return c;
}

Napi::Object ObjectArg(const Napi::CallbackInfo& info, size_t i) {
  return info[i].IsObject() ? info[i].As<Napi::Object>() : Napi::Object::New(info.Env());
}

}  // namespace

Conn* Endpoint::AddConn(rdma_cm_id* id) {
  auto c = std::make_unique<Conn>();
  c->handle = NewHandle();
  c->id = id;
  id->context = reinterpret_cast<void*>(static_cast<uintptr_t>(c->handle));
  Conn* raw = c.get();
  conns_.emplace(raw->handle, std::move(c));
  return raw;
}

int Endpoint::DeviceOf(rdma_cm_id* id) const {
  if (id == nullptr || id->verbs == nullptr) return -1;
  for (size_t i = 0; i < devices_.size(); i++)
    if (devices_[i].verbs == id->verbs) return static_cast<int>(i);
  const char* name = ibv_get_device_name(id->verbs->device);
  for (size_t i = 0; i < devices_.size(); i++)
    if (name != nullptr && devices_[i].name == name) return static_cast<int>(i);
  return -1;
}

// RC QP on the device's shared CQ (send and receive), sq_sig_all = 0: only WRs posted signaled
// complete, plus every failed one (as tgt's iser.c).
int Endpoint::MakeQp(Conn* c, const QpCaps& caps) {
  if (c->id == nullptr || c->listener) return EINVAL;
  if (c->id->qp != nullptr) return 0;
  const int di = DeviceOf(c->id);
  if (di < 0) return ENODEV;
  Device& d = devices_[di];
  ibv_qp_init_attr a;
  std::memset(&a, 0, sizeof a);
  a.send_cq = d.cq;
  a.recv_cq = d.cq;
  a.qp_type = IBV_QPT_RC;
  a.sq_sig_all = 0;
  a.cap.max_send_wr = caps.sendDepth;
  a.cap.max_recv_wr = caps.recvDepth;
  a.cap.max_send_sge = caps.maxSge;
  a.cap.max_recv_sge = caps.maxSge;
  a.cap.max_inline_data = caps.maxInline;
  if (rdma_create_qp(c->id, d.pd, &a) != 0) return errno;
  c->device = di;
  byQp_[(static_cast<uint64_t>(di) << 32) | c->id->qp->qp_num] = c;
  return 0;
}

void Endpoint::DestroyConn(Conn* c) {
  QuiescePosts();
  if (c->id != nullptr) {
    if (c->id->qp != nullptr) {
      byQp_.erase((static_cast<uint64_t>(c->device) << 32) | c->id->qp->qp_num);
      rdma_destroy_qp(c->id);
    }
    rdma_destroy_id(c->id);
    c->id = nullptr;
  }
  conns_.erase(c->handle);
}

// listen(address, port, backlog) -> { conn, port }. IPv6 listeners are IPv6-only, so one port can
// have an IPv4 and an IPv6 portal side by side.
Napi::Value Endpoint::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return ThrowErrno(env, "listen", EBADF);
  sockaddr_storage sa;
  const std::string addr = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  const uint32_t port = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  const int backlog = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 64;
  if (port > 65535 || !ParseAddr(addr, static_cast<uint16_t>(port), &sa)) {
    Napi::TypeError::New(env, "listen: bad address '" + addr + "' or port").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  rdma_cm_id* id = nullptr;
  if (rdma_create_id(cm_, &id, nullptr, RDMA_PS_TCP) != 0) return ThrowErrno(env, "rdma_create_id", errno);
  if (sa.ss_family == AF_INET6) {
    int one = 1;
    if (rdma_set_option(id, RDMA_OPTION_ID, RDMA_OPTION_ID_AFONLY, &one, sizeof one) != 0) {
      const int e = errno;
      rdma_destroy_id(id);
      return ThrowErrno(env, "rdma_set_option(AFONLY)", e);
    }
  }
  if (rdma_bind_addr(id, reinterpret_cast<sockaddr*>(&sa)) != 0 || rdma_listen(id, backlog) != 0) {
    const int e = errno;
    rdma_destroy_id(id);
    return ThrowErrno(env, "rdma_bind_addr/rdma_listen", e);
  }
  Conn* c = AddConn(id);
  c->listener = true;
  Napi::Object out = Napi::Object::New(env);
  out.Set("conn", Napi::Number::New(env, c->handle));
  out.Set("port", Napi::Number::New(env, ntohs(rdma_get_src_port(id))));
  return out;
}

// connect(address, port, privateData, params) -> conn. params: conn_param options plus QP caps and
// timeoutMs (address and route resolution, default 2000).
Napi::Value Endpoint::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return ThrowErrno(env, "connect", EBADF);
  sockaddr_storage sa;
  const std::string addr = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  const uint32_t port = info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 0;
  if (port == 0 || port > 65535 || !ParseAddr(addr, static_cast<uint16_t>(port), &sa)) {
    Napi::TypeError::New(env, "connect: bad address '" + addr + "' or port").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = ObjectArg(info, 3);
  rdma_cm_id* id = nullptr;
  if (rdma_create_id(cm_, &id, nullptr, RDMA_PS_TCP) != 0) return ThrowErrno(env, "rdma_create_id", errno);
  Conn* c = AddConn(id);
  c->active = true;
  c->caps = ReadCaps(o);
  ReadConnParam(o, &c->param, &c->privateData);
  c->privateData = BytesOf(info[2]);
  c->timeoutMs = OptU32(o, "timeoutMs", 2000);
  if (rdma_resolve_addr(id, nullptr, reinterpret_cast<sockaddr*>(&sa), static_cast<int>(c->timeoutMs)) != 0) {
    const int e = errno;
    DestroyConn(c);
    return ThrowErrno(env, "rdma_resolve_addr", e);
  }
  return Napi::Number::New(env, c->handle);
}

// createQp(conn, caps) -> errno. caps: { sendDepth, recvDepth, maxSge, maxInline }.
Napi::Value Endpoint::CreateQp(const Napi::CallbackInfo& info) {
  Conn* c = FindConn(info[0]);
  if (c == nullptr) return Errno(info.Env(), ENOTCONN);
  return Errno(info.Env(), MakeQp(c, ReadCaps(ObjectArg(info, 1))));
}

// accept(conn, params) -> errno. params: QP caps (used if the QP does not exist yet) and conn_param
// options. tgt accepts with responder_resources 1 and initiator_depth min(device max, requested).
Napi::Value Endpoint::Accept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Conn* c = FindConn(info[0]);
  if (c == nullptr || c->listener || c->active) return Errno(env, ENOTCONN);
  Napi::Object o = ObjectArg(info, 1);
  int err = MakeQp(c, ReadCaps(o));
  if (err != 0) return Errno(env, err);
  rdma_conn_param p;
  std::vector<uint8_t> data;
  ReadConnParam(o, &p, &data);
  p.private_data = data.empty() ? nullptr : data.data();
  p.private_data_len = static_cast<uint8_t>(data.size());
  return Errno(env, rdma_accept(c->id, &p) != 0 ? errno : 0);
}

// reject(conn, privateData?) -> errno.
Napi::Value Endpoint::Reject(const Napi::CallbackInfo& info) {
  Conn* c = FindConn(info[0]);
  if (c == nullptr || c->listener) return Errno(info.Env(), ENOTCONN);
  std::vector<uint8_t> data = BytesOf(info[1]);
  const int r = rdma_reject(c->id, data.empty() ? nullptr : data.data(), static_cast<uint8_t>(data.size()));
  return Errno(info.Env(), r != 0 ? errno : 0);
}

// disconnect(conn) -> errno. The QP goes to the error state: outstanding work requests complete
// with IBV_WC_WR_FLUSH_ERR; 'disconnected' follows on both sides.
Napi::Value Endpoint::Disconnect(const Napi::CallbackInfo& info) {
  Conn* c = FindConn(info[0]);
  if (c == nullptr || c->listener) return Errno(info.Env(), ENOTCONN);
  QuiescePosts();  // what was posted before the disconnect leaves before it
  return Errno(info.Env(), rdma_disconnect(c->id) != 0 ? errno : 0);
}

// destroy(conn) -> undefined. QP then cm id; any state, unknown or already destroyed handles ignored.
Napi::Value Endpoint::Destroy(const Napi::CallbackInfo& info) {
  Conn* c = FindConn(info[0]);
  if (c != nullptr) DestroyConn(c);
  return info.Env().Undefined();
}

Napi::Value Endpoint::CmEventToJs(Napi::Env env, rdma_cm_event* ev, std::vector<uint32_t>& toConnect,
                                  std::vector<rdma_cm_id*>& orphans) {
  if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST) {
    const uint32_t listener = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(ev->listen_id->context));
    if (conns_.find(listener) == conns_.end() || DeviceOf(ev->id) < 0) {
      rdma_reject(ev->id, nullptr, 0);
      orphans.push_back(ev->id);  // destroyed once the event is acked
      return env.Undefined();
    }
    Conn* c = AddConn(ev->id);
    Napi::Object o = Napi::Object::New(env);
    o.Set("type", Napi::String::New(env, "connect-request"));
    o.Set("conn", Napi::Number::New(env, c->handle));
    o.Set("listener", Napi::Number::New(env, listener));
    o.Set("device", Napi::String::New(env, devices_[DeviceOf(ev->id)].name));
    SetAddr(env, o, "peerAddress", "peerPort", rdma_get_peer_addr(ev->id));
    SetAddr(env, o, "localAddress", "localPort", rdma_get_local_addr(ev->id));
    const rdma_conn_param& p = ev->param.conn;
    o.Set("privateData", Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(p.private_data),
                                                     p.private_data != nullptr ? p.private_data_len : 0));
    o.Set("initiatorDepth", Napi::Number::New(env, p.initiator_depth));
    o.Set("responderResources", Napi::Number::New(env, p.responder_resources));
    return o;
  }
  const uint32_t handle = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(ev->id->context));
  auto it = conns_.find(handle);
  if (it == conns_.end()) return env.Undefined();
  Conn* c = it->second.get();
  const char* type = EventName(ev->event);
  int status = ev->status;
  if (ev->event == RDMA_CM_EVENT_ADDR_RESOLVED) {
    if (rdma_resolve_route(c->id, static_cast<int>(c->timeoutMs)) == 0) return env.Undefined();
    type = "unreachable";
    status = -errno;
  } else if (ev->event == RDMA_CM_EVENT_ROUTE_RESOLVED) {
    const int err = MakeQp(c, c->caps);
    if (err == 0) {
      type = "route-resolved";
      toConnect.push_back(c->handle);
    } else {
      type = "unreachable";
      status = -err;
    }
  }
  if (type == nullptr) return env.Undefined();
  Napi::Object o = Napi::Object::New(env);
  o.Set("type", Napi::String::New(env, type));
  o.Set("conn", Napi::Number::New(env, handle));
  o.Set("status", Napi::Number::New(env, status));
  if (ev->event == RDMA_CM_EVENT_ESTABLISHED || ev->event == RDMA_CM_EVENT_REJECTED) {
    const rdma_conn_param& p = ev->param.conn;
    o.Set("privateData", Napi::Buffer<uint8_t>::Copy(env, static_cast<const uint8_t*>(p.private_data),
                                                     p.private_data != nullptr ? p.private_data_len : 0));
    o.Set("initiatorDepth", Napi::Number::New(env, p.initiator_depth));
    o.Set("responderResources", Napi::Number::New(env, p.responder_resources));
  }
  return o;
}

void Endpoint::DrainCm() {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Array events = Napi::Array::New(env);
  uint32_t n = 0;
  std::vector<uint32_t> toConnect;
  std::vector<rdma_cm_id*> orphans;
  rdma_cm_event* ev = nullptr;
  while (!closed_ && rdma_get_cm_event(cm_, &ev) == 0) {
    Napi::Value v = CmEventToJs(env, ev, toConnect, orphans);
    rdma_ack_cm_event(ev);
    if (!v.IsUndefined()) events.Set(n++, v);
  }
  for (rdma_cm_id* id : orphans) rdma_destroy_id(id);
  if (closed_) return;
  if (n > 0) CallHandler(onCm_, events);
  // rdma_connect after the handler: receives it posted on 'route-resolved' are in place.
  Napi::Array failed = Napi::Array::New(env);
  uint32_t nf = 0;
  for (uint32_t h : toConnect) {
    if (closed_) return;
    auto it = conns_.find(h);
    if (it == conns_.end()) continue;
    Conn* c = it->second.get();
    c->param.private_data = c->privateData.empty() ? nullptr : c->privateData.data();
    c->param.private_data_len = static_cast<uint8_t>(c->privateData.size());
    if (rdma_connect(c->id, &c->param) != 0) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("type", Napi::String::New(env, "unreachable"));
      o.Set("conn", Napi::Number::New(env, h));
      o.Set("status", Napi::Number::New(env, -errno));
      failed.Set(nf++, o);
    }
  }
  if (nf > 0) CallHandler(onCm_, failed);
}

}  // namespace stgt_rdma
