// SPDX-License-Identifier: Apache-2.0
#include "agents/vault_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "core/url.hpp"

namespace citybrain::agents {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using nlohmann::json;

Result<ReleaseOutcome> RequestRelease(const vault::DepartmentKeys& keys, const ReleaseAsk& ask, int64_t now_ms) {
    CB_TRY_ASSIGN(core::HttpUrl url, core::ParseHttpUrl(ask.vault_url, "vault_url"));
    const std::string body = vault::MakeRequest(keys, ask.grant_id, ask.fields, ask.purpose, ask.case_id, now_ms);
    http::response<http::string_body> res;
    try {
        net::io_context ioc;
        beast::tcp_stream stream(ioc);
        tcp::resolver resolver(ioc);
        stream.expires_after(ask.timeout);
        stream.connect(resolver.resolve(url.host, url.port));
        http::request<http::string_body> req{http::verb::post, url.path + "/vault/v1/releases", 11};
        req.set(http::field::host, url.host);
        req.set(http::field::content_type, "application/json");
        req.body() = body;
        req.prepare_payload();
        stream.expires_after(ask.timeout);
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response_parser<http::string_body> parser;
        parser.body_limit(size_t{16} * 1024 * 1024);
        http::read(stream, buffer, parser);
        res = parser.release();
        beast::error_code ec;
        stream.socket().shutdown(tcp::socket::shutdown_both, ec);
    } catch (const std::exception& e) {
        return Error{
            ErrorCode::kUnavailable, std::string("the vault could not be reached: ") + e.what(), ask.vault_url};
    }
    ReleaseOutcome out;
    out.status = static_cast<int>(res.result_int());
    const json answer = json::parse(res.body(), nullptr, false);
    if (!answer.is_object()) {
        return Error{ErrorCode::kUnavailable,
                     "the vault answered " + std::to_string(out.status) + " without a JSON object",
                     ask.vault_url};
    }
    if (answer.contains("receipt")) out.receipt = answer["receipt"];
    if (out.status == 200) {
        CB_TRY_ASSIGN(out.opened, vault::OpenRelease(keys, res.body(), ask.vault_key));
        out.released = true;
        out.code = "released";
        return out;
    }
    out.code = vault::StringOf(answer, "code");
    out.field = vault::StringOf(answer, "field");
    out.reason = vault::StringOf(answer, "message");
    if (!out.receipt.is_null()) {
        // A refusal's receipt must verify too: the department keeps it as proof it asked and was refused.
        CB_TRY_ASSIGN(vault::Receipt r, vault::ReceiptFromJson(out.receipt));
        CB_TRY(vault::VerifyReceipt(r, ask.vault_key));
    }
    return out;
}

}  // namespace citybrain::agents
