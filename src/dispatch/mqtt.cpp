// SPDX-License-Identifier: Apache-2.0
#include "dispatch/mqtt.hpp"

#include <mosquitto.h>

#include <mutex>

namespace citybrain::dispatch {

namespace {
std::once_flag g_init;
Error Unavailable(const std::string& what, int rc) {
    return Error{ErrorCode::kUnavailable, what + ": " + mosquitto_strerror(rc), "mqtt"};
}
}  // namespace

Result<std::unique_ptr<MqttClient>> MqttClient::Connect(const std::string& host,
                                                        int port,
                                                        const std::string& client_id,
                                                        Handler handler) {
    std::call_once(g_init, [] { mosquitto_lib_init(); });
    std::unique_ptr<MqttClient> c(new MqttClient(std::move(handler)));
    c->m_ = mosquitto_new(client_id.c_str(), /*clean_session=*/true, c.get());
    if (c->m_ == nullptr) return Error{ErrorCode::kInternal, "mosquitto_new failed", "mqtt"};
    mosquitto_message_callback_set(c->m_, &MqttClient::OnMessage);
    // No cap on messages queued in this client: a burst of orders must not be refused here.
    mosquitto_max_inflight_messages_set(c->m_, 100);
    // A blocking connect, so that a wrong address or a missing broker is an error here and not a silent retry.
    if (int rc = mosquitto_connect(c->m_, host.c_str(), port, /*keepalive=*/30); rc != MOSQ_ERR_SUCCESS) {
        return Unavailable("cannot connect to " + host + ":" + std::to_string(port), rc);
    }
    if (int rc = mosquitto_loop_start(c->m_); rc != MOSQ_ERR_SUCCESS) return Unavailable("loop_start", rc);
    return c;
}

MqttClient::~MqttClient() {
    if (m_ == nullptr) return;
    mosquitto_disconnect(m_);
    mosquitto_loop_stop(m_, /*force=*/false);
    mosquitto_destroy(m_);
}

Status MqttClient::Subscribe(const std::string& pattern, int qos) {
    if (int rc = mosquitto_subscribe(m_, nullptr, pattern.c_str(), qos); rc != MOSQ_ERR_SUCCESS) {
        return Unavailable("subscribe " + pattern, rc);
    }
    return {};
}

Status MqttClient::Publish(const std::string& topic, const std::string& payload, int qos) {
    const int rc = mosquitto_publish(m_,
                                     nullptr,
                                     topic.c_str(),
                                     static_cast<int>(payload.size()),
                                     payload.data(),
                                     qos,
                                     /*retain=*/false);
    if (rc != MOSQ_ERR_SUCCESS) return Unavailable("publish " + topic, rc);
    return {};
}

void MqttClient::OnMessage(mosquitto* /*m*/, void* self, const mosquitto_message* msg) {
    auto* c = static_cast<MqttClient*>(self);
    if (!c->handler_ || msg == nullptr) return;
    c->handler_(msg->topic, std::string(static_cast<const char*>(msg->payload), static_cast<size_t>(msg->payloadlen)));
}

}  // namespace citybrain::dispatch
