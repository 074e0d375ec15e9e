#include "runtime/azureml/blob_auth.h"

#include <algorithm>
#include <cctype>
#include <ctime>
#include <map>

#include "compiler/sha256.h"

namespace amlflow::runtime::azureml {
namespace {

constexpr const char* kStorageVersion = "2021-08-06";

std::string hex_to_bytes(const std::string& hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2) out += static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16));
    return out;
}

std::string sha256_raw(std::string_view data) {
    compiler::Sha256 hash;
    hash.update(data);
    return hex_to_bytes(hash.hex_digest());
}

std::string percent_decode(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(static_cast<unsigned char>(text[i + 1])) &&
            std::isxdigit(static_cast<unsigned char>(text[i + 2]))) {
            out += static_cast<char>(std::stoi(std::string(text.substr(i + 1, 2)), nullptr, 16));
            i += 2;
        } else {
            out += text[i];
        }
    }
    return out;
}

std::string encode_path(std::string_view path) {
    std::string out;
    size_t start = 0;
    while (start <= path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) slash = path.size();
        if (!out.empty() || start > 0) out += '/';
        out += percent_encode(path.substr(start, slash - start));
        start = slash + 1;
    }
    return out;
}

std::string http_date() {
    std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[64];
    std::strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S GMT", &utc);
    return text;
}

std::string header_value(const Headers& headers, std::string_view name) {
    for (const auto& [key, value] : headers) {
        if (lowercase(key) == name) return value;
    }
    return "";
}

// "/account/path" then "\nname:value" for each query parameter, sorted, values decoded.
std::string canonical_resource(const BlobContainer& container, const std::string& url) {
    size_t scheme = url.find("://");
    size_t path_at = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
    size_t query_at = url.find('?');
    std::string path = path_at == std::string::npos ? "/" : url.substr(path_at, query_at - path_at);
    std::string out = "/" + container.account + path;
    std::map<std::string, std::string> params;
    if (query_at != std::string::npos) {
        std::string query = url.substr(query_at + 1);
        size_t start = 0;
        while (start < query.size()) {
            size_t amp = query.find('&', start);
            if (amp == std::string::npos) amp = query.size();
            std::string part = query.substr(start, amp - start);
            size_t eq = part.find('=');
            std::string name = lowercase(percent_decode(part.substr(0, eq)));
            std::string value = eq == std::string::npos ? "" : percent_decode(part.substr(eq + 1));
            params[name] = params[name].empty() ? value : params[name] + "," + value;
            start = amp + 1;
        }
    }
    for (const auto& [name, value] : params) out += "\n" + name + ":" + value;
    return out;
}

}  // namespace

std::string BlobContainer::blob_url(std::string_view blob, std::string_view query) const {
    std::string url = account_url + "/" + percent_encode(container) + "/" + encode_path(blob);
    std::string q(query);
    if (!sas.empty()) q += (q.empty() ? "" : "&") + sas;
    return q.empty() ? url : url + "?" + q;
}

std::string BlobContainer::container_url(std::string_view query) const {
    std::string url = account_url + "/" + percent_encode(container);
    std::string q(query);
    if (!sas.empty()) q += (q.empty() ? "" : "&") + sas;
    return q.empty() ? url : url + "?" + q;
}

std::optional<BlobContainer> container_from_sas_url(const std::string& url, std::string* error) {
    size_t scheme = url.find("://");
    size_t path_at = scheme == std::string::npos ? std::string::npos : url.find('/', scheme + 3);
    if (path_at == std::string::npos) {
        *error = "'" + redacted_url(url) + "' names no blob container";
        return std::nullopt;
    }
    size_t query_at = url.find('?');
    std::string host = url.substr(scheme + 3, path_at - scheme - 3);
    std::string path = url.substr(path_at + 1, query_at == std::string::npos ? std::string::npos : query_at - path_at - 1);
    std::vector<std::string> parts;
    size_t start = 0;
    while (start < path.size()) {
        size_t slash = path.find('/', start);
        if (slash == std::string::npos) slash = path.size();
        if (slash > start) parts.push_back(percent_decode(path.substr(start, slash - start)));
        start = slash + 1;
    }
    BlobContainer out;
    std::string bare_host = host.substr(0, host.find(':'));
    size_t taken = 0;
    if (bare_host.find(".blob.") != std::string::npos) {
        out.account = bare_host.substr(0, bare_host.find('.'));
        out.account_url = url.substr(0, path_at);
    } else if (!parts.empty()) {
        out.account = parts[0];
        out.account_url = url.substr(0, path_at) + "/" + percent_encode(parts[0]);
        taken = 1;
    }
    if (parts.size() <= taken) {
        *error = "'" + redacted_url(url) + "' names no blob container";
        return std::nullopt;
    }
    out.container = parts[taken];
    for (size_t i = taken + 1; i < parts.size(); ++i) out.prefix += (out.prefix.empty() ? "" : "/") + parts[i];
    if (query_at != std::string::npos) out.sas = url.substr(query_at + 1);
    return out;
}

std::string datastore_account_url(const std::string& protocol, const std::string& account, const std::string& endpoint) {
    return (protocol.empty() ? "https" : protocol) + "://" + account + ".blob." + endpoint;
}

void authorize_blob_request(const BlobContainer& container, HttpRequest& request) {
    request.headers.emplace_back("x-ms-date", http_date());
    request.headers.emplace_back("x-ms-version", kStorageVersion);
    if (container.key.empty()) return;
    auto key = base64_decode(container.key);
    if (!key) return;  // the service answers 403, which says more than a guess here
    std::uint64_t length = request.upload ? request.upload->length : request.body.size();
    const Headers& h = request.headers;
    std::string sign = request.method + "\n" + header_value(h, "content-encoding") + "\n" +
                       header_value(h, "content-language") + "\n" + (length ? std::to_string(length) : "") + "\n" +
                       header_value(h, "content-md5") + "\n" + header_value(h, "content-type") + "\n\n" +
                       header_value(h, "if-modified-since") + "\n" + header_value(h, "if-match") + "\n" +
                       header_value(h, "if-none-match") + "\n" + header_value(h, "if-unmodified-since") + "\n" +
                       header_value(h, "range") + "\n";
    std::map<std::string, std::string> ms;
    for (const auto& [name, value] : h) {
        std::string lower = lowercase(name);
        if (lower.rfind("x-ms-", 0) == 0) ms[lower] = value;
    }
    for (const auto& [name, value] : ms) sign += name + ":" + value + "\n";
    sign += canonical_resource(container, request.url);
    request.headers.emplace_back("Authorization",
                                 "SharedKey " + container.account + ":" + base64_encode(hmac_sha256(*key, sign)));
}

std::string base64_encode(std::string_view bytes) {
    static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    size_t i = 0;
    for (; i + 2 < bytes.size(); i += 3) {
        unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8 | (unsigned char)bytes[i + 2];
        out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], table[v & 63]};
    }
    if (i + 1 == bytes.size()) {
        unsigned v = (unsigned char)bytes[i] << 16;
        out += {table[v >> 18], table[(v >> 12) & 63], '=', '='};
    } else if (i + 2 == bytes.size()) {
        unsigned v = (unsigned char)bytes[i] << 16 | (unsigned char)bytes[i + 1] << 8;
        out += {table[v >> 18], table[(v >> 12) & 63], table[(v >> 6) & 63], '='};
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    std::string out;
    unsigned value = 0;
    int bits = 0;
    for (char c : text) {
        int d;
        if (c >= 'A' && c <= 'Z') d = c - 'A';
        else if (c >= 'a' && c <= 'z') d = c - 'a' + 26;
        else if (c >= '0' && c <= '9') d = c - '0' + 52;
        else if (c == '+') d = 62;
        else if (c == '/') d = 63;
        else if (c == '=') break;
        else return std::nullopt;
        value = (value << 6) | static_cast<unsigned>(d);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((value >> bits) & 0xff);
        }
    }
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view message) {
    std::string k = key.size() > 64 ? sha256_raw(key) : std::string(key);
    k.resize(64, '\0');
    std::string inner(64, '\0'), outer(64, '\0');
    for (size_t i = 0; i < 64; ++i) {
        inner[i] = static_cast<char>(k[i] ^ 0x36);
        outer[i] = static_cast<char>(k[i] ^ 0x5c);
    }
    return sha256_raw(outer + sha256_raw(inner + std::string(message)));
}

}  // namespace amlflow::runtime::azureml
