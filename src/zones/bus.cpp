// SPDX-License-Identifier: Apache-2.0
#include "zones/bus.hpp"

#include <nats/nats.h>

#include <algorithm>
#include <cstring>
#include <mutex>

namespace citybrain::zones {
namespace {

Error BusError(std::string_view what, natsStatus s, jsErrCode js = static_cast<jsErrCode>(0)) {
    std::string message = std::string(what) + ": " + natsStatus_GetText(s);
    if (js != 0) message += " (JetStream error " + std::to_string(static_cast<int>(js)) + ")";
    // The thread's last error is kept from earlier calls too: only one of the same status belongs to this one.
    natsStatus last_status = NATS_OK;
    if (const char* last = nats_GetLastError(&last_status); last != nullptr && *last != '\0' && last_status == s) {
        message += ": ";
        message += last;
    }
    return Error{ErrorCode::kUnavailable, std::move(message), "nats"};
}

}  // namespace

Status CheckToken(std::string_view where, std::string_view token) {
    if (token.empty()) return InvalidArgument(std::string(where), "must not be empty");
    if (token.size() > 64) return InvalidArgument(std::string(where), "longer than 64 characters");
    for (const char c : token) {
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) {
            return InvalidArgument(std::string(where),
                                   "'" + std::string(token) + "' may hold only letters, digits, '-' and '_'");
        }
    }
    return {};
}

// --- Message ---

Message::~Message() {
    if (m_ != nullptr) natsMsg_Destroy(m_);
}

Message::Message(Message&& other) noexcept : m_(other.m_) { other.m_ = nullptr; }

std::string_view Message::subject() const { return natsMsg_GetSubject(m_); }

std::string_view Message::data() const { return {natsMsg_GetData(m_), static_cast<size_t>(natsMsg_GetDataLength(m_))}; }

std::string Message::id() const {
    const char* v = nullptr;
    if (natsMsgHeader_Get(m_, "Nats-Msg-Id", &v) != NATS_OK || v == nullptr) return {};
    return v;
}

uint64_t Message::delivered() const {
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, m_) != NATS_OK) return 0;
    const uint64_t n = meta->NumDelivered;
    jsMsgMetaData_Destroy(meta);
    return n;
}

Status Message::Ack() {
    // Not waited for: a lost acknowledgement only brings the message back, and its id keeps it from being applied
    // twice. Waiting for each (AckSync) would cost a round trip per report.
    if (const natsStatus s = natsMsg_Ack(m_, nullptr); s != NATS_OK) return BusError("ack", s);
    return {};
}

// --- Consumer ---

Consumer::~Consumer() {
    // Unsubscribing a durable pull subscription would delete the consumer: only the handle goes.
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
}

Result<std::vector<Message>> Consumer::Fetch(int batch, int64_t timeout_ms) {
    natsMsgList list{};
    jsFetchRequest req;
    jsFetchRequest_Init(&req);
    req.Batch = batch;
    // What is there now, without leaving a request waiting at the server: a message the server sends to a waiting
    // request after the client has stopped waiting for it is dropped by the client and comes back only after the
    // consumer's ack wait (measured: a single node fell from 30k to 2k reports/s with plain waiting fetches).
    req.NoWait = true;
    req.Expires = timeout_ms * 1'000'000;
    const natsStatus s = natsSubscription_FetchRequest(&list, sub_, &req);
    std::vector<Message> out;
    if (s == NATS_TIMEOUT || s == NATS_NOT_FOUND) return out;
    if (s != NATS_OK) return BusError("fetch", s);
    out.reserve(static_cast<size_t>(list.Count));
    for (int i = 0; i < list.Count; ++i) {
        out.push_back(Message(list.Msgs[i]));
        list.Msgs[i] = nullptr;  // owned by `out` now
    }
    natsMsgList_Destroy(&list);
    return out;
}

// --- Leases ---

Leases::~Leases() {
    if (kv_ != nullptr) kvStore_Destroy(kv_);
    if (js_ != nullptr) jsCtx_Destroy(js_);
}

Result<bool> Leases::Hold(const std::string& key, const std::string& holder) {
    kvEntry* e = nullptr;
    natsStatus s = kvStore_Get(&e, kv_, key.c_str());
    if (s == NATS_NOT_FOUND) {
        // Nobody holds it (never taken, released, or aged out): create fails if someone else got there first.
        uint64_t rev = 0;
        s = kvStore_CreateString(&rev, kv_, key.c_str(), holder.c_str());
        if (s == NATS_OK) return true;
        return false;
    }
    if (s != NATS_OK) return BusError("lease " + key, s);
    const std::string current = kvEntry_ValueString(e);
    const uint64_t revision = kvEntry_Revision(e);
    kvEntry_Destroy(e);
    if (current != holder) return false;
    uint64_t rev = 0;
    // Renewed only if nobody wrote it since we read it: the compare-and-set that keeps one holder at a time.
    s = kvStore_UpdateString(&rev, kv_, key.c_str(), holder.c_str(), revision);
    if (s == NATS_OK) return true;
    return false;
}

Result<std::string> Leases::Holder(const std::string& key) {
    kvEntry* e = nullptr;
    const natsStatus s = kvStore_Get(&e, kv_, key.c_str());
    if (s == NATS_NOT_FOUND) {
        return std::string();
    }
    if (s != NATS_OK) return BusError("lease " + key, s);
    std::string holder = kvEntry_ValueString(e);
    kvEntry_Destroy(e);
    return holder;
}

Result<std::vector<std::string>> Leases::Keys() {
    kvKeysList list{};
    const natsStatus s = kvStore_Keys(&list, kv_, nullptr);
    std::vector<std::string> out;
    if (s == NATS_NOT_FOUND) {
        return out;
    }
    if (s != NATS_OK) return BusError("lease keys", s);
    for (int i = 0; i < list.Count; ++i) out.emplace_back(list.Keys[i]);
    kvKeysList_Destroy(&list);
    return out;
}

Status Leases::Release(const std::string& key, const std::string& holder) {
    CB_TRY_ASSIGN(const std::string current, Holder(key));
    if (current != holder) return {};
    if (const natsStatus s = kvStore_Delete(kv_, key.c_str()); s != NATS_OK) return BusError("release " + key, s);
    return {};
}

// --- Bus ---

Result<std::unique_ptr<Bus>> Bus::Connect(const BusOptions& options) {
    std::unique_ptr<Bus> bus(new Bus(options));
    natsOptions* opts = nullptr;
    natsStatus s = natsOptions_Create(&opts);
    if (s == NATS_OK) s = natsOptions_SetURL(opts, options.url.c_str());
    if (s == NATS_OK) s = natsOptions_SetTimeout(opts, options.wait_ms);
    // Reconnect for ever: a restarted nats-server (its stream on disk) is the same bus.
    if (s == NATS_OK) s = natsOptions_SetMaxReconnect(opts, -1);
    if (s == NATS_OK) s = natsOptions_SetReconnectWait(opts, 200);
    if (s == NATS_OK && options.send_at_once) s = natsOptions_SetSendAsap(opts, true);
    // A server that is down at start (restarting) is waited for, up to connect_wait_ms.
    if (s == NATS_OK) s = natsOptions_SetRetryOnFailedConnect(opts, true, nullptr, nullptr);
    if (s == NATS_OK) s = natsConnection_Connect(&bus->nc_, opts);
    natsOptions_Destroy(opts);
    if (s == NATS_NOT_YET_CONNECTED) {
        const int64_t until = nats_Now() + options.connect_wait_ms;
        while (natsConnection_Status(bus->nc_) != NATS_CONN_STATUS_CONNECTED && nats_Now() < until) nats_Sleep(50);
        s = natsConnection_Status(bus->nc_) == NATS_CONN_STATUS_CONNECTED ? NATS_OK : NATS_NO_SERVER;
    }
    if (s != NATS_OK) return BusError("connect to " + options.url, s);
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = options.wait_ms;
    if (s = natsConnection_JetStream(&bus->js_, bus->nc_, &jo); s != NATS_OK) return BusError("JetStream", s);
    // A second context for bulk publishing, whose acknowledgements come back to OnAsyncAck one by one.
    jo.PublishAsync.AckHandler = &Bus::OnAsyncAck;
    jo.PublishAsync.AckHandlerClosure = bus.get();
    jo.PublishAsync.MaxPending = 4096;
    if (s = natsConnection_JetStream(&bus->jsa_, bus->nc_, &jo); s != NATS_OK) return BusError("JetStream", s);
    return bus;
}

Bus::~Bus() {
    if (jsa_ != nullptr) jsCtx_Destroy(jsa_);
    if (js_ != nullptr) jsCtx_Destroy(js_);
    if (nc_ != nullptr) {
        natsConnection_FlushTimeout(nc_, 1000);
        natsConnection_Destroy(nc_);
    }
}

Status Bus::EnsureStream(const std::string& name, const std::string& subjects) {
    CB_TRY(CheckToken("stream", name));
    jsStreamInfo* si = nullptr;
    jsErrCode js = static_cast<jsErrCode>(0);
    natsStatus s = js_GetStreamInfo(&si, js_, name.c_str(), nullptr, &js);
    if (s == NATS_OK) {
        jsStreamInfo_Destroy(si);
        return {};
    }
    if (s != NATS_NOT_FOUND) return BusError("stream " + name, s, js);
    jsStreamConfig cfg;
    jsStreamConfig_Init(&cfg);
    cfg.Name = name.c_str();
    const char* list[] = {subjects.c_str()};
    cfg.Subjects = list;
    cfg.SubjectsLen = 1;
    cfg.Storage = js_FileStorage;
    cfg.Duplicates = options_.duplicate_window_ms * 1'000'000;  // nanoseconds on the wire
    s = js_AddStream(&si, js_, &cfg, nullptr, &js);
    if (s != NATS_OK) return BusError("create stream " + name, s, js);
    jsStreamInfo_Destroy(si);
    return {};
}

Result<PubAck> Bus::Publish(const std::string& subject, std::string_view data, const std::string& msg_id) {
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = options_.wait_ms;
    if (!msg_id.empty()) po.MsgId = msg_id.c_str();
    jsPubAck* ack = nullptr;
    jsErrCode js = static_cast<jsErrCode>(0);
    const natsStatus s = js_Publish(&ack, js_, subject.c_str(), data.data(), static_cast<int>(data.size()), &po, &js);
    if (s != NATS_OK) return BusError("publish " + subject, s, js);
    PubAck out{ack->Sequence, ack->Duplicate};
    jsPubAck_Destroy(ack);
    return out;
}

void Bus::OnAsyncAck(jsCtx* /*js*/, natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure) {
    auto* bus = static_cast<Bus*>(closure);
    const char* id = nullptr;
    if (natsMsgHeader_Get(msg, "Nats-Msg-Id", &id) == NATS_OK && id != nullptr) {
        std::lock_guard lock(bus->async_mu_);
        if (auto it = bus->async_index_.find(id);
            it != bus->async_index_.end() && it->second < bus->async_out_.size()) {
            if (pa != nullptr) {
                bus->async_out_[it->second] = PubAck{pa->Sequence, pa->Duplicate};
            } else if (pae != nullptr) {
                bus->async_out_[it->second] =
                    Error{ErrorCode::kUnavailable,
                          std::string("publish refused: ") +
                              (pae->ErrText != nullptr ? pae->ErrText : natsStatus_GetText(pae->Err)),
                          "nats"};
            }
        }
    }
    natsMsg_Destroy(msg);
}

std::vector<Status> Bus::PublishAll(const std::vector<Outgoing>& messages) {
    std::vector<Status> out;
    out.reserve(messages.size());
    for (Result<PubAck>& r : PublishAllAcked(messages)) out.push_back(r.ok() ? Status{} : Status(r.error()));
    return out;
}

std::vector<Result<PubAck>> Bus::PublishAllAcked(const std::vector<Outgoing>& messages) {
    std::lock_guard one(async_call_mu_);
    {
        std::lock_guard lock(async_mu_);
        async_index_.clear();
        // Unanswered until the acknowledgement (or its error) arrives on libnats's thread.
        async_out_.assign(messages.size(),
                          Result<PubAck>(Error{ErrorCode::kUnavailable, "no acknowledgement", "nats"}));
        for (size_t i = 0; i < messages.size(); ++i) {
            if (messages[i].msg_id.empty()) {
                async_out_[i] = InvalidArgument("msg_id", "a message published in bulk needs an id");
                continue;
            }
            async_index_.emplace(messages[i].msg_id, i);
        }
    }
    for (size_t i = 0; i < messages.size(); ++i) {
        const Outgoing& o = messages[i];
        if (o.msg_id.empty()) continue;
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MsgId = o.msg_id.c_str();
        po.MaxWait = options_.wait_ms;
        const natsStatus s =
            js_PublishAsync(jsa_, o.subject.c_str(), o.data.data(), static_cast<int>(o.data.size()), &po);
        if (s != NATS_OK) {
            std::lock_guard lock(async_mu_);
            async_out_[i] = BusError("publish " + o.subject, s);
        }
    }
    jsPubOptions wait;
    jsPubOptions_Init(&wait);
    wait.MaxWait = options_.wait_ms;
    (void)js_PublishAsyncComplete(jsa_, &wait);  // what did not complete stays "no acknowledgement"
    std::lock_guard lock(async_mu_);
    async_index_.clear();
    return std::move(async_out_);
}

Result<std::unique_ptr<Consumer>> Bus::PullConsumer(const std::string& stream,
                                                    const std::string& durable,
                                                    const std::string& subject,
                                                    int64_t ack_wait_ms) {
    CB_TRY(CheckToken("durable", durable));
    std::unique_ptr<Consumer> c(new Consumer());
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream.c_str();
    so.Config.AckPolicy = js_AckExplicit;
    so.Config.AckWait = ack_wait_ms * 1'000'000;  // nanoseconds on the wire
    so.Config.MaxAckPending = 4096;
    jsErrCode js = static_cast<jsErrCode>(0);
    const natsStatus s = js_PullSubscribe(&c->sub_, js_, subject.c_str(), durable.c_str(), nullptr, &so, &js);
    if (s != NATS_OK) return BusError("consumer " + durable, s, js);
    return c;
}

Result<Bus::Backlog> Bus::ConsumerBacklog(const std::string& stream, const std::string& durable) {
    jsConsumerInfo* ci = nullptr;
    jsErrCode js = static_cast<jsErrCode>(0);
    const natsStatus s = js_GetConsumerInfo(&ci, js_, stream.c_str(), durable.c_str(), nullptr, &js);
    if (s == NATS_NOT_FOUND) {
        return Backlog{};
    }
    if (s != NATS_OK) return BusError("consumer " + durable, s, js);
    Backlog b{ci->NumPending, static_cast<uint64_t>(ci->NumAckPending)};
    jsConsumerInfo_Destroy(ci);
    return b;
}

namespace {

/// Binds to the key-value bucket `bucket`, creating it (file storage, one revision per key) if it is not there.
natsStatus BindBucket(__kvStore** kv, __jsCtx* js, const std::string& bucket, int64_t ttl_ms) {
    natsStatus s = js_KeyValue(kv, js, bucket.c_str());
    if (s == NATS_NOT_FOUND) {
        kvConfig cfg;
        kvConfig_Init(&cfg);
        cfg.Bucket = bucket.c_str();
        cfg.History = 1;
        cfg.TTL = ttl_ms * 1'000'000;  // nanoseconds, like every duration on the wire; 0: entries never expire
        cfg.StorageType = js_FileStorage;
        s = js_CreateKeyValue(kv, js, &cfg);
    }
    return s;
}

}  // namespace

Result<std::unique_ptr<Leases>> Bus::OpenLeases(const std::string& bucket, int64_t ttl_ms) {
    CB_TRY(CheckToken("bucket", bucket));
    std::unique_ptr<Leases> l(new Leases());
    l->ttl_ms_ = ttl_ms;
    // A renewal that waits longer than a quarter of the lease has failed: across a dead link the holder must find
    // out, and let its zones go, before its leases age out at the server and another node takes them.
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = std::max<int64_t>(100, ttl_ms / 4);
    natsStatus s = natsConnection_JetStream(&l->js_, nc_, &jo);
    if (s != NATS_OK) return BusError("JetStream", s);
    s = BindBucket(&l->kv_, l->js_, bucket, ttl_ms);
    if (s != NATS_OK) return BusError("lease bucket " + bucket, s);
    return l;
}

// --- Table ---

Table::~Table() {
    if (kv_ != nullptr) kvStore_Destroy(kv_);
}

Result<std::optional<Table::Entry>> Table::Get(const std::string& key) {
    kvEntry* e = nullptr;
    const natsStatus s = kvStore_Get(&e, kv_, key.c_str());
    if (s == NATS_NOT_FOUND) return std::optional<Entry>();
    if (s != NATS_OK) return BusError("table " + key, s);
    Entry entry{kvEntry_ValueString(e), kvEntry_Revision(e)};
    kvEntry_Destroy(e);
    return std::optional<Entry>(std::move(entry));
}

Result<bool> Table::Put(const std::string& key, const std::string& value, uint64_t revision) {
    uint64_t rev = 0;
    const natsStatus s = revision == 0 ? kvStore_CreateString(&rev, kv_, key.c_str(), value.c_str())
                                       : kvStore_UpdateString(&rev, kv_, key.c_str(), value.c_str(), revision);
    if (s == NATS_OK) return true;
    // Refused because someone wrote first, or failed: the entry as it is now tells which.
    CB_TRY_ASSIGN(const auto now, Get(key));
    if (now.has_value() && now->revision != revision) return false;
    return BusError("table " + key, s);
}

Result<std::unique_ptr<Table>> Bus::OpenTable(const std::string& bucket) {
    CB_TRY(CheckToken("bucket", bucket));
    std::unique_ptr<Table> t(new Table());
    if (const natsStatus s = BindBucket(&t->kv_, js_, bucket, 0); s != NATS_OK) {
        return BusError("table " + bucket, s);
    }
    return t;
}

// --- core NATS ---

Subscription::~Subscription() {
    if (sub_ != nullptr) natsSubscription_Destroy(sub_);
}

Result<std::string> Subscription::Next(int64_t timeout_ms) {
    natsMsg* m = nullptr;
    const natsStatus s = natsSubscription_NextMsg(&m, sub_, timeout_ms);
    if (s != NATS_OK) return BusError("next message", s);
    std::string out(natsMsg_GetData(m), static_cast<size_t>(natsMsg_GetDataLength(m)));
    natsMsg_Destroy(m);
    return out;
}

Status Bus::Send(const std::string& subject, std::string_view data) {
    const natsStatus s = natsConnection_Publish(nc_, subject.c_str(), data.data(), static_cast<int>(data.size()));
    if (s != NATS_OK) return BusError("send " + subject, s);
    return {};
}

Result<std::unique_ptr<Subscription>> Bus::Subscribe(const std::string& subject) {
    std::unique_ptr<Subscription> sub(new Subscription());
    natsStatus s = natsConnection_SubscribeSync(&sub->sub_, nc_, subject.c_str());
    // The subscription must be known to the server before the first message meant for it is sent.
    if (s == NATS_OK) s = natsConnection_FlushTimeout(nc_, options_.wait_ms);
    if (s != NATS_OK) return BusError("subscribe " + subject, s);
    return sub;
}

}  // namespace citybrain::zones
