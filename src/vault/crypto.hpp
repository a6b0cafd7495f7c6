// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace citybrain::vault {

/// Bytes that must not outlive their use: wiped (sodium_memzero) when destroyed, never copied.
class Secret {
public:
    Secret() = default;
    explicit Secret(std::string bytes) : bytes_(std::move(bytes)) {}
    ~Secret();
    Secret(Secret&& other) noexcept;
    Secret& operator=(Secret&& other) noexcept;
    Secret(const Secret&) = delete;
    Secret& operator=(const Secret&) = delete;

    const std::string& bytes() const { return bytes_; }
    std::string& mutable_bytes() { return bytes_; }
    bool empty() const { return bytes_.empty(); }
    void Wipe();

private:
    std::string bytes_;
};

/// libsodium's own initialisation; every entry point of the vault calls it (it is idempotent and thread-safe).
Status InitCrypto();

std::string ToBase64(std::string_view bytes);
/// Standard base64 (with padding). `size` > 0: the decoded bytes must be exactly that long. `field` names the input.
Result<std::string> FromBase64(std::string_view text, size_t size, const std::string& field);
std::string ToHex(std::string_view bytes);
std::string RandomBytes(size_t n);
/// 128 random bits as 32 hex digits.
std::string RandomId();
/// BLAKE2b-256 of `a` then `b`.
std::string Hash(std::string_view a, std::string_view b = {});

/// An Ed25519 key pair: 32-byte public key, 64-byte secret key.
struct SigningKeys {
    std::string public_key;
    Secret secret_key;
};
SigningKeys NewSigningKeys();
/// Rebuilds a pair from its secret key (which holds the public key in its second half).
Result<SigningKeys> SigningKeysFromSecret(std::string secret, const std::string& field);
std::string Sign(std::string_view message, const Secret& secret_key);
bool Verify(std::string_view message, std::string_view signature, std::string_view public_key);

/// A sealed box (X25519 + XSalsa20-Poly1305, anonymous sender) for the holder of an Ed25519 key: the key is
/// converted to its X25519 twin, so a department needs one key pair for signing and for opening.
Result<std::string> SealFor(std::string_view message, std::string_view ed25519_public_key);
Result<std::string> OpenSealed(std::string_view sealed, const SigningKeys& keys);

/// XChaCha20-Poly1305 (IETF) with a random nonce; `ad` is authenticated, not stored. Output: nonce ‖ ciphertext.
std::string Encrypt(std::string_view plain, std::string_view ad, const Secret& key);
/// Fails when the key is wrong or a byte of `box` or `ad` changed.
Result<std::string> Decrypt(std::string_view box, std::string_view ad, const Secret& key, const std::string& what);

/// Argon2id's cost: operations and memory (bytes).
struct KdfParams {
    uint64_t ops = 0;
    size_t mem = 0;
};
/// "interactive" (libsodium's for online use: 64 MiB, ~0.16 s here), "moderate" (256 MiB, ~1 s) or "sensitive".
Result<KdfParams> KdfByName(std::string_view name);
inline constexpr size_t kSaltBytes = 16;
/// A 32-byte key from a passphrase (Argon2id v1.3).
Result<Secret> DeriveKey(std::string_view passphrase, std::string_view salt, KdfParams params);

}  // namespace citybrain::vault
