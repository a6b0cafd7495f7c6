// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/error.hpp"

struct mosquitto;
struct mosquitto_message;

namespace citybrain::dispatch {

/// A small MQTT client over libmosquitto: connect, subscribe, publish, and a handler called on libmosquitto's
/// network thread for each message. Only this file knows libmosquitto.
class MqttClient {
public:
    using Handler = std::function<void(const std::string& topic, const std::string& payload)>;

    /// Connects (and waits for the broker's CONNACK) and starts the network thread. A clean session: the broker
    /// keeps nothing for us across connections, so reliability comes from the fleet protocol's retries.
    static Result<std::unique_ptr<MqttClient>> Connect(const std::string& host,
                                                       int port,
                                                       const std::string& client_id,
                                                       Handler handler);
    ~MqttClient();
    MqttClient(const MqttClient&) = delete;
    MqttClient& operator=(const MqttClient&) = delete;

    Status Subscribe(const std::string& pattern, int qos);
    /// Queues a message; libmosquitto sends it from its thread. QoS 1: the broker acknowledges it (but may still
    /// drop it on the way to a slow subscriber).
    Status Publish(const std::string& topic, const std::string& payload, int qos);

private:
    explicit MqttClient(Handler handler) : handler_(std::move(handler)) {}
    static void OnMessage(mosquitto* m, void* self, const mosquitto_message* msg);
    mosquitto* m_ = nullptr;
    Handler handler_;
};

}  // namespace citybrain::dispatch
