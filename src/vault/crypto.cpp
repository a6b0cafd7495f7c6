// SPDX-License-Identifier: Apache-2.0
#include "vault/crypto.hpp"

#include <sodium.h>

namespace citybrain::vault {

namespace {
const unsigned char* U(std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }
unsigned char* U(std::string& s) { return reinterpret_cast<unsigned char*>(s.data()); }
}  // namespace

Secret::~Secret() { Wipe(); }
Secret::Secret(Secret&& other) noexcept : bytes_(std::move(other.bytes_)) { other.Wipe(); }
Secret& Secret::operator=(Secret&& other) noexcept {
    if (this != &other) {
        Wipe();
        bytes_ = std::move(other.bytes_);
        other.Wipe();
    }
    return *this;
}
void Secret::Wipe() {
    if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
    bytes_.clear();
}

Status InitCrypto() {
    if (sodium_init() < 0) return Error{ErrorCode::kInternal, "libsodium could not initialise", "vault"};
    return {};
}

std::string ToBase64(std::string_view bytes) {
    std::string out(sodium_base64_encoded_len(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(out.data(), out.size(), U(bytes), bytes.size(), sodium_base64_VARIANT_ORIGINAL);
    out.resize(out.size() - 1);  // the terminating NUL
    return out;
}

Result<std::string> FromBase64(std::string_view text, size_t size, const std::string& field) {
    std::string out(text.size() / 4 * 3 + 3, '\0');
    size_t len = 0;
    if (sodium_base642bin(
            U(out), out.size(), text.data(), text.size(), nullptr, &len, nullptr, sodium_base64_VARIANT_ORIGINAL) !=
        0) {
        return InvalidArgument(field, "is not base64");
    }
    out.resize(len);
    if (size > 0 && len != size)
        return InvalidArgument(field, "must decode to " + std::to_string(size) + " bytes, not " + std::to_string(len));
    return out;
}

std::string ToHex(std::string_view bytes) {
    std::string out(bytes.size() * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), U(bytes), bytes.size());
    out.pop_back();
    return out;
}

std::string RandomBytes(size_t n) {
    std::string out(n, '\0');
    randombytes_buf(out.data(), n);
    return out;
}

std::string RandomId() { return ToHex(RandomBytes(16)); }

std::string Hash(std::string_view a, std::string_view b) {
    crypto_generichash_state st;
    crypto_generichash_init(&st, nullptr, 0, 32);
    crypto_generichash_update(&st, U(a), a.size());
    crypto_generichash_update(&st, U(b), b.size());
    std::string out(32, '\0');
    crypto_generichash_final(&st, U(out), out.size());
    return out;
}

SigningKeys NewSigningKeys() {
    std::string pk(crypto_sign_PUBLICKEYBYTES, '\0');
    std::string sk(crypto_sign_SECRETKEYBYTES, '\0');
    crypto_sign_keypair(U(pk), U(sk));
    return {std::move(pk), Secret(std::move(sk))};
}

Result<SigningKeys> SigningKeysFromSecret(std::string secret, const std::string& field) {
    Secret sk(std::move(secret));
    if (sk.bytes().size() != crypto_sign_SECRETKEYBYTES)
        return InvalidArgument(field,
                               "an Ed25519 secret key is " + std::to_string(crypto_sign_SECRETKEYBYTES) + " bytes");
    std::string pk(crypto_sign_PUBLICKEYBYTES, '\0');
    crypto_sign_ed25519_sk_to_pk(U(pk), U(sk.bytes()));
    return SigningKeys{std::move(pk), std::move(sk)};
}

std::string Sign(std::string_view message, const Secret& secret_key) {
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(U(sig), nullptr, U(message), message.size(), U(secret_key.bytes()));
    return sig;
}

bool Verify(std::string_view message, std::string_view signature, std::string_view public_key) {
    if (signature.size() != crypto_sign_BYTES || public_key.size() != crypto_sign_PUBLICKEYBYTES) return false;
    return crypto_sign_verify_detached(U(signature), U(message), message.size(), U(public_key)) == 0;
}

Result<std::string> SealFor(std::string_view message, std::string_view ed25519_public_key) {
    if (ed25519_public_key.size() != crypto_sign_PUBLICKEYBYTES)
        return InvalidArgument("department", "an Ed25519 public key is 32 bytes");
    std::string x(crypto_box_PUBLICKEYBYTES, '\0');
    if (crypto_sign_ed25519_pk_to_curve25519(U(x), U(ed25519_public_key)) != 0)
        return InvalidArgument("department", "is not a valid Ed25519 public key");
    std::string out(message.size() + crypto_box_SEALBYTES, '\0');
    crypto_box_seal(U(out), U(message), message.size(), U(x));
    return out;
}

Result<std::string> OpenSealed(std::string_view sealed, const SigningKeys& keys) {
    if (sealed.size() < crypto_box_SEALBYTES) return InvalidArgument("sealed", "is shorter than a sealed box");
    std::string xpk(crypto_box_PUBLICKEYBYTES, '\0');
    Secret xsk(std::string(crypto_box_SECRETKEYBYTES, '\0'));
    if (crypto_sign_ed25519_pk_to_curve25519(U(xpk), U(keys.public_key)) != 0 ||
        crypto_sign_ed25519_sk_to_curve25519(U(xsk.mutable_bytes()), U(keys.secret_key.bytes())) != 0) {
        return InvalidArgument("key", "is not a valid Ed25519 key pair");
    }
    std::string out(sealed.size() - crypto_box_SEALBYTES, '\0');
    if (crypto_box_seal_open(U(out), U(sealed), sealed.size(), U(xpk), U(xsk.bytes())) != 0)
        return InvalidArgument("sealed", "does not open with this department's key");
    return out;
}

std::string Encrypt(std::string_view plain, std::string_view ad, const Secret& key) {
    constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    std::string out(kNonce + plain.size() + crypto_aead_xchacha20poly1305_ietf_ABYTES, '\0');
    randombytes_buf(out.data(), kNonce);
    unsigned long long len = 0;
    crypto_aead_xchacha20poly1305_ietf_encrypt(
        U(out) + kNonce, &len, U(plain), plain.size(), U(ad), ad.size(), nullptr, U(out), U(key.bytes()));
    out.resize(kNonce + len);
    return out;
}

Result<std::string> Decrypt(std::string_view box, std::string_view ad, const Secret& key, const std::string& what) {
    constexpr size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
    constexpr size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
    if (box.size() < kNonce + kTag || key.bytes().size() != crypto_aead_xchacha20poly1305_ietf_KEYBYTES)
        return Error{ErrorCode::kFailedPrecondition, "is too short to be a sealed record", what};
    std::string out(box.size() - kNonce - kTag, '\0');
    unsigned long long len = 0;
    if (crypto_aead_xchacha20poly1305_ietf_decrypt(
            U(out), &len, nullptr, U(box) + kNonce, box.size() - kNonce, U(ad), ad.size(), U(box), U(key.bytes())) !=
        0) {
        return Error{ErrorCode::kFailedPrecondition, "does not decrypt: the key is wrong or the bytes changed", what};
    }
    out.resize(len);
    return out;
}

Result<KdfParams> KdfByName(std::string_view name) {
    if (name == "interactive") return KdfParams{crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
    if (name == "moderate") return KdfParams{crypto_pwhash_OPSLIMIT_MODERATE, crypto_pwhash_MEMLIMIT_MODERATE};
    if (name == "sensitive") return KdfParams{crypto_pwhash_OPSLIMIT_SENSITIVE, crypto_pwhash_MEMLIMIT_SENSITIVE};
    return InvalidArgument("--kdf", "must be interactive, moderate or sensitive, not '" + std::string(name) + "'");
}

Result<Secret> DeriveKey(std::string_view passphrase, std::string_view salt, KdfParams params) {
    if (salt.size() != kSaltBytes) return Error{ErrorCode::kFailedPrecondition, "the salt is not 16 bytes", "vault"};
    if (params.ops < crypto_pwhash_OPSLIMIT_MIN || params.mem < crypto_pwhash_MEMLIMIT_MIN ||
        params.ops > crypto_pwhash_OPSLIMIT_SENSITIVE || params.mem > crypto_pwhash_MEMLIMIT_SENSITIVE) {
        // Capped at the costliest setting `init` offers: a cost written into a stolen file must not hang the box.
        return Error{ErrorCode::kFailedPrecondition, "the key-derivation cost is out of range", "vault"};
    }
    std::string key(32, '\0');
    if (crypto_pwhash(U(key),
                      key.size(),
                      passphrase.data(),
                      passphrase.size(),
                      U(salt),
                      params.ops,
                      params.mem,
                      crypto_pwhash_ALG_ARGON2ID13) != 0) {
        return Error{ErrorCode::kResourceExhausted, "Argon2id ran out of memory", "vault"};
    }
    return Secret(std::move(key));
}

}  // namespace citybrain::vault
