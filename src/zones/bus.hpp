// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/error.hpp"

// libnats's handles, kept out of every other file (the names are libnats's own).
struct __natsConnection;    // NOLINT(bugprone-reserved-identifier)
struct __jsCtx;             // NOLINT(bugprone-reserved-identifier)
struct __natsSubscription;  // NOLINT(bugprone-reserved-identifier)
struct __natsMsg;           // NOLINT(bugprone-reserved-identifier)
struct __kvStore;           // NOLINT(bugprone-reserved-identifier)
struct jsPubAck;
struct jsPubAckErr;

namespace citybrain::zones {

struct BusOptions {
    std::string url = "nats://127.0.0.1:4222";
    /// How long JetStream remembers a message id to drop a republished duplicate (its de-duplication window).
    int64_t duplicate_window_ms = int64_t{10} * 60'000;
    /// How long a publish or an API call waits for the server's answer.
    int64_t wait_ms = 5000;
    /// How long Connect waits for a server that is not up yet (one restarting).
    int64_t connect_wait_ms = 15'000;
    /// Writes each message to the socket at once instead of letting the client gather them (which waits up to a
    /// millisecond): for lockstep exchanges, where the round trip is the cost; bulk publishing wants it off.
    bool send_at_once = false;
};

/// What JetStream answered to a publish: the message is stored (in the stream's file storage) under `seq`, or was
/// a republish of an id already stored within the de-duplication window (`duplicate`; nothing new stored).
struct PubAck {
    uint64_t seq = 0;
    bool duplicate = false;
};

/// A message pulled from a durable consumer. It stays unacknowledged (and JetStream redelivers it after the
/// consumer's ack wait) until Ack returns.
class Message {
public:
    ~Message();
    Message(Message&& other) noexcept;
    Message& operator=(Message&&) = delete;
    Message(const Message&) = delete;
    Message& operator=(const Message&) = delete;

    std::string_view subject() const;
    std::string_view data() const;
    /// The publisher's `Nats-Msg-Id` header ("" when none): the idempotency key end to end.
    std::string id() const;
    /// 1 on first delivery, more on redelivery.
    uint64_t delivered() const;
    /// Acknowledges (without waiting for the server's confirmation: a lost acknowledgement redelivers the message,
    /// which the receiver must recognise by its id).
    Status Ack();

private:
    friend class Consumer;
    explicit Message(__natsMsg* m) : m_(m) {}
    __natsMsg* m_ = nullptr;
};

/// A durable pull consumer on the stream, filtered to one subject: what a zone's owner reads its zone through.
/// Its position lives in JetStream, so whoever binds to it next resumes after the last acknowledged message.
class Consumer {
public:
    ~Consumer();
    Consumer(const Consumer&) = delete;
    Consumer& operator=(const Consumer&) = delete;
    /// Up to `batch` of the messages waiting now, at once; when none wait, empty after `timeout_ms`.
    Result<std::vector<Message>> Fetch(int batch, int64_t timeout_ms);

private:
    friend class Bus;
    Consumer() = default;
    __natsSubscription* sub_ = nullptr;
};

/// A plain (core NATS) subscription, for what is not worth storing: a simulation step's boundary vehicles, which a
/// crash loses with the step anyway.
class Subscription {
public:
    ~Subscription();
    Subscription(const Subscription&) = delete;
    Subscription& operator=(const Subscription&) = delete;
    /// The next message's data; Unavailable when none came within `timeout_ms`.
    Result<std::string> Next(int64_t timeout_ms);

private:
    friend class Bus;
    Subscription() = default;
    __natsSubscription* sub_ = nullptr;
};

/// Leases in a JetStream key-value bucket whose entries expire after `ttl_ms`: a holder renews its lease before it
/// expires (a compare-and-set on the entry's revision); when a holder dies, its entry ages out and the key can be
/// created again by someone else. A holder that cannot renew must assume it lost the lease.
class Leases {
public:
    ~Leases();
    Leases(const Leases&) = delete;
    Leases& operator=(const Leases&) = delete;
    /// Takes the lease on `key` for `holder` if nobody holds it, or renews it if `holder` does. True when `holder`
    /// holds it afterwards; false when another does.
    Result<bool> Hold(const std::string& key, const std::string& holder);
    /// Who holds `key` ("" when nobody).
    Result<std::string> Holder(const std::string& key);
    /// Every key held now, in no particular order.
    Result<std::vector<std::string>> Keys();
    /// Gives the lease up (a node that stops cleanly), so that a survivor need not wait for it to expire.
    Status Release(const std::string& key, const std::string& holder);
    int64_t ttl_ms() const { return ttl_ms_; }

private:
    friend class Bus;
    Leases() = default;
    __jsCtx* js_ = nullptr;  // its own, with a wait shorter than the lease
    __kvStore* kv_ = nullptr;
    int64_t ttl_ms_ = 0;
};

/// A JetStream key-value bucket whose entries do not expire, written by compare-and-set: what several nodes share
/// and must never both change (which case a unit is taken by). File storage, one revision kept per key.
class Table {
public:
    ~Table();
    Table(const Table&) = delete;
    Table& operator=(const Table&) = delete;
    struct Entry {
        std::string value;
        uint64_t revision = 0;
    };
    /// The entry of `key`, or nullopt when there is none.
    Result<std::optional<Entry>> Get(const std::string& key);
    /// Writes `value` if `key` has no entry (`revision` 0) or still has the entry of `revision`. False when
    /// someone wrote it first (nothing written).
    Result<bool> Put(const std::string& key, const std::string& value, uint64_t revision);

private:
    friend class Bus;
    Table() = default;
    __kvStore* kv_ = nullptr;
};

/// The city's message bus: NATS JetStream through libnats (the only file that knows libnats). Streams with file
/// storage; publishes wait for the stream's acknowledgement.
class Bus {
public:
    static Result<std::unique_ptr<Bus>> Connect(const BusOptions& options);
    ~Bus();
    Bus(const Bus&) = delete;
    Bus& operator=(const Bus&) = delete;

    /// Creates the stream `name` over `subjects` (a pattern) if it does not exist: file storage and the
    /// de-duplication window.
    Status EnsureStream(const std::string& name, const std::string& subjects);
    /// Publishes and waits until JetStream has stored the message. `msg_id` (may be empty) lets JetStream drop a
    /// republish of the same message inside the de-duplication window.
    Result<PubAck> Publish(const std::string& subject, std::string_view data, const std::string& msg_id);
    /// Publishes many without waiting for each acknowledgement in turn, then waits for all: the i-th result is
    /// the i-th message's. Each needs its own `msg_id` (how an acknowledgement finds its message). One call at a
    /// time per bus.
    struct Outgoing {
        std::string subject, data, msg_id;
    };
    std::vector<Status> PublishAll(const std::vector<Outgoing>& messages);
    /// The same, with each message's acknowledgement (its place in the stream; whether it was a duplicate).
    std::vector<Result<PubAck>> PublishAllAcked(const std::vector<Outgoing>& messages);
    /// Binds to (creating if needed) the durable pull consumer `durable` of `stream` on `subject`, with explicit
    /// acknowledgement: a message not acknowledged within `ack_wait_ms` is delivered again.
    Result<std::unique_ptr<Consumer>> PullConsumer(const std::string& stream,
                                                   const std::string& durable,
                                                   const std::string& subject,
                                                   int64_t ack_wait_ms);
    /// How many messages wait for `durable` (not yet delivered) and how many were delivered but not acknowledged.
    struct Backlog {
        uint64_t pending = 0, unacked = 0;
    };
    Result<Backlog> ConsumerBacklog(const std::string& stream, const std::string& durable);
    /// Core NATS, outside JetStream (use subjects that no stream covers): sent at once, not stored, not
    /// acknowledged.
    Status Send(const std::string& subject, std::string_view data);
    Result<std::unique_ptr<Subscription>> Subscribe(const std::string& subject);
    /// Opens (creating if needed) the lease bucket `bucket` with entries that expire after `ttl_ms`.
    Result<std::unique_ptr<Leases>> OpenLeases(const std::string& bucket, int64_t ttl_ms);
    /// Opens (creating if needed) the table `bucket`.
    Result<std::unique_ptr<Table>> OpenTable(const std::string& bucket);

    const BusOptions& options() const { return options_; }

private:
    explicit Bus(BusOptions options) : options_(std::move(options)) {}
    static void OnAsyncAck(__jsCtx* js, __natsMsg* msg, jsPubAck* pa, jsPubAckErr* pae, void* closure);
    BusOptions options_;
    __natsConnection* nc_ = nullptr;
    __jsCtx* js_ = nullptr;
    __jsCtx* jsa_ = nullptr;  // for PublishAll
    std::mutex async_call_mu_;
    std::mutex async_mu_;
    std::unordered_map<std::string, size_t> async_index_;  // msg id -> index in the current PublishAll
    std::vector<Result<PubAck>> async_out_;
};

/// A subject token (a zone id, a durable name): letters, digits, '-' and '_' only (no '.', '*', '>' or spaces).
Status CheckToken(std::string_view where, std::string_view token);

}  // namespace citybrain::zones
