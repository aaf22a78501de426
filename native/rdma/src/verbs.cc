// Verbs side of the endpoint: per-device PD/CQ/completion channel, registered pools, work requests, CQ draining (ibv_*(3)).
//
// Data path rules: post* never throw and never allocate; they return 0 or an errno number
// (ENOTCONN: no such conn or no QP yet, EINVAL: unknown pool or a slice outside it, else what
// ibv_post_send/ibv_post_recv returned, e.g. ENOMEM when the queue is full). Slices are
// (pool, offset, length); the lkey is the pool's MR on the conn's device.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "common.h"

namespace stgt_rdma {

Mapping::~Mapping() {
  if (ptr != nullptr) munmap(ptr, length);
}

int Endpoint::OpenDevices() {
  int n = 0;
  devList_ = rdma_get_devices(&n);
  if (devList_ == nullptr) return 0;  // no device: an endpoint that can only fail to listen/connect
  for (int i = 0; i < n; i++) {
    Device d;
    d.verbs = devList_[i];
    const char* name = ibv_get_device_name(d.verbs->device);
    d.name = name != nullptr ? name : "";
    devices_.push_back(d);
    Device& dev = devices_.back();
    if (ibv_query_device(dev.verbs, &dev.attr) != 0) return errno;
    const ibv_device_attr& attr = dev.attr;
    dev.pd = ibv_alloc_pd(dev.verbs);
    if (dev.pd == nullptr) return errno != 0 ? errno : ENOMEM;
    dev.channel = ibv_create_comp_channel(dev.verbs);
    if (dev.channel == nullptr) return errno != 0 ? errno : ENOMEM;
    const int cqe = static_cast<int>(std::min<uint32_t>(cqSize_, static_cast<uint32_t>(attr.max_cqe)));
    dev.cq = ibv_create_cq(dev.verbs, cqe, nullptr, dev.channel, 0);
    if (dev.cq == nullptr) return errno != 0 ? errno : ENOMEM;
    if (ibv_req_notify_cq(dev.cq, 0) != 0) return errno;
    dev.poller = Watch(dev.channel->fd, i);
    if (dev.poller == nullptr) return EINVAL;
  }
  return 0;
}

void Endpoint::CloseDevices() {
  for (Device& d : devices_) {
    Unwatch(d.poller);
    if (d.cq != nullptr) {
      if (d.unackedEvents > 0) ibv_ack_cq_events(d.cq, d.unackedEvents);
      d.unackedEvents = 0;
      ibv_destroy_cq(d.cq);
    }
    if (d.channel != nullptr) ibv_destroy_comp_channel(d.channel);
    if (d.pd != nullptr) ibv_dealloc_pd(d.pd);
  }
  devices_.clear();
  if (devList_ != nullptr) rdma_free_devices(devList_);
  devList_ = nullptr;
}

// registerPool(bytes) -> { pool, buffer, addr, lkey, rkey, keys }. The memory is mmap'd (page
// aligned), registered on every device's PD with LOCAL_WRITE | REMOTE_READ | REMOTE_WRITE, and
// exposed as one external Buffer; lkey/rkey are the first device's, keys[] has every device's.
Napi::Value Endpoint::RegisterPool(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return ThrowErrno(env, "registerPool", EBADF);
  const double want = info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : 0;
  if (!(want >= 1) || want > static_cast<double>(1ULL << 40)) {
    Napi::RangeError::New(env, "registerPool(bytes): bytes must be a positive number").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  if (devices_.empty()) return ThrowErrno(env, "registerPool (no RDMA device)", ENODEV);
  const size_t bytes = static_cast<size_t>(want);
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  auto mem = std::make_shared<Mapping>();
  mem->length = (bytes + page - 1) / page * page;
  void* p = mmap(nullptr, mem->length, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return ThrowErrno(env, "mmap", errno);
  mem->ptr = p;
  auto pool = std::make_unique<Pool>();
  pool->handle = NewHandle();
  pool->mem = mem;
  pool->bytes = bytes;
  const int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE;
  for (Device& d : devices_) {
    ibv_mr* mr = ibv_reg_mr(d.pd, mem->ptr, mem->length, access);
    if (mr == nullptr) {
      const int e = errno;
      for (ibv_mr* m : pool->mrs) ibv_dereg_mr(m);
      return ThrowErrno(env, "ibv_reg_mr", e);
    }
    pool->mrs.push_back(mr);
  }
  // The Buffer holds its own reference to the mapping: deregistering (or closing the endpoint)
  // revokes RDMA access at once, but the memory stays valid until the Buffer is collected.
  auto* hold = new std::shared_ptr<Mapping>(mem);
  Napi::Buffer<uint8_t> buf = Napi::Buffer<uint8_t>::New(
      env, static_cast<uint8_t*>(mem->ptr), bytes,
      [](Napi::Env, uint8_t*, std::shared_ptr<Mapping>* h) { delete h; }, hold);
  Napi::Object out = Napi::Object::New(env);
  out.Set("pool", Napi::Number::New(env, pool->handle));
  out.Set("buffer", buf);
  out.Set("addr", Napi::BigInt::New(env, static_cast<uint64_t>(reinterpret_cast<uintptr_t>(mem->ptr))));
  out.Set("lkey", Napi::Number::New(env, pool->mrs[0]->lkey));
  out.Set("rkey", Napi::Number::New(env, pool->mrs[0]->rkey));
  Napi::Array keys = Napi::Array::New(env, devices_.size());
  for (size_t i = 0; i < devices_.size(); i++) {
    Napi::Object k = Napi::Object::New(env);
    k.Set("device", Napi::String::New(env, devices_[i].name));
    k.Set("lkey", Napi::Number::New(env, pool->mrs[i]->lkey));
    k.Set("rkey", Napi::Number::New(env, pool->mrs[i]->rkey));
    keys.Set(static_cast<uint32_t>(i), k);
  }
  out.Set("keys", keys);
  pools_.emplace(pool->handle, std::move(pool));
  return out;
}

// deregisterPool(pool) -> errno. In-flight work requests on it then fail with protection errors.
Napi::Value Endpoint::DeregisterPool(const Napi::CallbackInfo& info) {
  Pool* p = FindPool(info[0]);
  if (p == nullptr) return Errno(info.Env(), EINVAL);
  QuiescePosts();
  for (ibv_mr* mr : p->mrs) ibv_dereg_mr(mr);
  pools_.erase(p->handle);
  return Errno(info.Env(), 0);
}

namespace {

inline uint32_t U32(const Napi::Value& v) { return v.IsNumber() ? v.As<Napi::Number>().Uint32Value() : 0; }
inline uint64_t U64(const Napi::Value& v) {
  if (v.IsBigInt()) {
    bool lossless = false;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return v.IsNumber() ? static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue()) : 0;
}

}  // namespace

// Resolves (conn, pool, offset, length) to a QP and an SGE; 0 or the errno to return.
#define STGT_SLICE(connArg, poolArg, offArg, lenArg, sge, qp)                                     \
  Conn* c_ = FindConn(connArg);                                                                   \
  if (c_ == nullptr || c_->id == nullptr || c_->id->qp == nullptr) return Errno(env, ENOTCONN);   \
  Pool* p_ = FindPool(poolArg);                                                                   \
  const uint32_t off_ = U32(offArg), len_ = U32(lenArg);                                          \
  if (p_ == nullptr || static_cast<uint64_t>(off_) + len_ > p_->bytes) return Errno(env, EINVAL); \
  ibv_sge sge;                                                                                    \
  sge.addr = reinterpret_cast<uintptr_t>(p_->mem->ptr) + off_;                                    \
  sge.length = len_;                                                                              \
  sge.lkey = p_->mrs[c_->device]->lkey;                                                           \
  ibv_qp* qp = c_->id->qp;

// postRecv(conn, pool, offset, length, wrId) -> errno.
Napi::Value Endpoint::PostRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  STGT_SLICE(info[0], info[1], info[2], info[3], sge, qp)
  ibv_recv_wr wr;
  std::memset(&wr, 0, sizeof wr);
  wr.wr_id = U64(info[4]);
  wr.sg_list = &sge;
  wr.num_sge = 1;
  ibv_recv_wr* bad = nullptr;
  return Errno(env, ibv_post_recv(qp, &wr, &bad));
}

// postSend(conn, pool, offset, length, wrId, signaled, invalidateRkey?) -> errno.
Napi::Value Endpoint::PostSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  STGT_SLICE(info[0], info[1], info[2], info[3], sge, qp)
  ibv_send_wr wr;
  std::memset(&wr, 0, sizeof wr);
  wr.wr_id = U64(info[4]);
  wr.sg_list = &sge;
  wr.num_sge = len_ > 0 ? 1 : 0;
  wr.send_flags = info[5].ToBoolean().Value() ? IBV_SEND_SIGNALED : 0;
  if (info[6].IsNumber()) {
    wr.opcode = IBV_WR_SEND_WITH_INV;
    wr.invalidate_rkey = U32(info[6]);
  } else {
    wr.opcode = IBV_WR_SEND;
  }
  (void)qp;
  return Errno(env, PostSendChain(c_, &wr));
}

// One RDMA WRITE or READ between a pool slice and (remoteAddr, rkey): args conn, pool, offset,
// length, remoteAddr, rkey, wrId.
Napi::Value Endpoint::PostRdma(const Napi::CallbackInfo& info, ibv_wr_opcode opcode, bool signaled) {
  Napi::Env env = info.Env();
  STGT_SLICE(info[0], info[1], info[2], info[3], sge, qp)
  ibv_send_wr wr;
  std::memset(&wr, 0, sizeof wr);
  wr.opcode = opcode;
  wr.wr.rdma.remote_addr = U64(info[4]);
  wr.wr.rdma.rkey = U32(info[5]);
  wr.wr_id = U64(info[6]);
  wr.send_flags = signaled ? IBV_SEND_SIGNALED : 0;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  (void)qp;
  return Errno(env, PostSendChain(c_, &wr));
}

// postRdmaWrite(conn, pool, offset, length, remoteAddr, rkey, wrId, signaled) -> errno.
Napi::Value Endpoint::PostRdmaWrite(const Napi::CallbackInfo& info) {
  return PostRdma(info, IBV_WR_RDMA_WRITE, info[7].ToBoolean().Value());
}

// postRdmaRead(conn, pool, offset, length, remoteAddr, rkey, wrId) -> errno. Always signaled:
// the data is only there once the completion says so.
Napi::Value Endpoint::PostRdmaRead(const Napi::CallbackInfo& info) {
  return PostRdma(info, IBV_WR_RDMA_READ, true);
}

// postRdmaWriteSend(conn, pool, wOffset, wLength, remoteAddr, rkey, sendPool, sOffset, sLength,
// wrId, signaled, invalidateRkey?) -> errno. One ibv_post_send of an unsignaled RDMA WRITE chained
// before a Send (iSER read data, then the SCSI Response); the two may sit in different
// registrations (data pool, control slots); both carry wrId, the Send's flags decide the
// completion. RC ordering guarantees the data is placed before the peer sees the Send.
Napi::Value Endpoint::PostRdmaWriteSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  STGT_SLICE(info[0], info[1], info[2], info[3], wsge, qp)
  Pool* sp = FindPool(info[6]);
  const uint32_t soff = U32(info[7]), slen = U32(info[8]);
  if (sp == nullptr || static_cast<uint64_t>(soff) + slen > sp->bytes) return Errno(env, EINVAL);
  ibv_sge ssge;
  ssge.addr = reinterpret_cast<uintptr_t>(sp->mem->ptr) + soff;
  ssge.length = slen;
  ssge.lkey = sp->mrs[c_->device]->lkey;
  ibv_send_wr send;
  std::memset(&send, 0, sizeof send);
  send.wr_id = U64(info[9]);
  send.sg_list = &ssge;
  send.num_sge = slen > 0 ? 1 : 0;
  send.send_flags = info[10].ToBoolean().Value() ? IBV_SEND_SIGNALED : 0;
  if (info[11].IsNumber()) {
    send.opcode = IBV_WR_SEND_WITH_INV;
    send.invalidate_rkey = U32(info[11]);
  } else {
    send.opcode = IBV_WR_SEND;
  }
  ibv_send_wr write;
  std::memset(&write, 0, sizeof write);
  write.wr_id = send.wr_id;
  write.opcode = IBV_WR_RDMA_WRITE;
  write.wr.rdma.remote_addr = U64(info[4]);
  write.wr.rdma.rkey = U32(info[5]);
  write.sg_list = &wsge;
  write.num_sge = 1;
  write.next = &send;
  (void)qp;
  return Errno(env, PostSendChain(c_, &write));
}

int Endpoint::PostSendChain(Conn* c, ibv_send_wr* first) {
  if (poster_ == nullptr) {
    ibv_send_wr* bad = nullptr;
    return ibv_post_send(c->id->qp, first, &bad);
  }
  PostEntry e;
  e.qp = c->id->qp;
  e.conn = c->handle;
  for (ibv_send_wr* w = first; w != nullptr && e.count < 2; w = w->next) {
    e.wr[e.count] = *w;
    if (w->num_sge > 0) e.sge[e.count] = w->sg_list[0];
    e.count++;
  }
  poster_->Submit(e);
  return 0;
}

void Endpoint::DeliverPostFailures() {
  if (closed_ || poster_ == nullptr) return;
  std::vector<PostFailure> f = poster_->TakeFailures();
  size_t i = 0;
  while (i < f.size() && !closed_) {
    uint32_t n = 0;
    for (; i < f.size() && n < batchMax_; i++, n++) {
      int32_t* fl = wcFields_ + static_cast<size_t>(n) * kWcStride;
      wcIds_[n] = static_cast<double>(f[i].wrId);
      fl[0] = conns_.count(f[i].conn) != 0 ? static_cast<int32_t>(f[i].conn) : 0;
      fl[1] = -1;
      fl[2] = IBV_WC_GENERAL_ERR;
      fl[3] = 0;
      fl[4] = f[i].err;
    }
    DispatchCompletions(n);
  }
}

void Endpoint::DispatchCompletions(uint32_t n) {
  Napi::Env env = Env();
  Napi::HandleScope scope(env);
  Napi::Object batch = batch_.Value();
  batch.Set("count", Napi::Number::New(env, n));
  CallHandler(onWc_, batch);
}

// Poll until empty, re-arm, poll once more; a full batch goes to JS at once (then re-arm again).
void Endpoint::DrainCq(int di) {
  {
    Device& d = devices_[di];
    ibv_cq* evCq = nullptr;
    void* evCtx = nullptr;
    while (ibv_get_cq_event(d.channel, &evCq, &evCtx) == 0) d.unackedEvents++;
    if (d.unackedEvents >= 64) {
      ibv_ack_cq_events(d.cq, d.unackedEvents);
      d.unackedEvents = 0;
    }
  }
  ibv_wc wcs[32];
  uint32_t n = 0;
  bool armed = false;
  for (;;) {
    Device& d = devices_[di];
    const int room = static_cast<int>(std::min<uint32_t>(32, batchMax_ - n));
    const int got = ibv_poll_cq(d.cq, room, wcs);
    if (got < 0) break;  // provider error; the next event retries
    for (int i = 0; i < got; i++) {
      const ibv_wc& wc = wcs[i];
      auto it = byQp_.find((static_cast<uint64_t>(di) << 32) | wc.qp_num);
      int32_t* f = wcFields_ + static_cast<size_t>(n) * kWcStride;
      wcIds_[n] = static_cast<double>(wc.wr_id);
      f[0] = it == byQp_.end() ? 0 : static_cast<int32_t>(it->second->handle);  // 0: QP already destroyed
      // verbs defines opcode (and byte_len) only for successful completions (ibv_poll_cq(3)).
      f[1] = wc.status == IBV_WC_SUCCESS ? static_cast<int32_t>(wc.opcode) : -1;
      f[2] = static_cast<int32_t>(wc.status);
      f[3] = static_cast<int32_t>(wc.byte_len);
      f[4] = static_cast<int32_t>(wc.vendor_err);
      n++;
    }
    if (n == batchMax_) {
      DispatchCompletions(n);
      n = 0;
      if (closed_) return;
      armed = false;
      continue;
    }
    if (got == 0) {
      if (armed) break;
      ibv_req_notify_cq(d.cq, 0);
      armed = true;
    }
  }
  if (n > 0) DispatchCompletions(n);
}

}  // namespace stgt_rdma
