// How amlflow reaches one blob container (NOTES "Azure Blob REST"): the account's URL, the
// container, and either a SAS (appended to every URL, no Authorization header) or the
// account key (Shared Key: an HMAC-SHA256 signature of the canonical request).
//
// The service hands out both kinds: a code version's startPendingUpload and run history's
// logFiles give SAS URLs, a datastore's listSecrets gives the account key. Azurite serves
// path-style URLs (http://127.0.0.1:PORT/devstoreaccount1/container/blob), where the
// account appears in the path and so twice in the signed resource.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "runtime/azureml/http_client.h"

namespace amlflow::runtime::azureml {

struct BlobContainer {
    std::string account_url;  // "https://acct.blob.core.windows.net" or ".../devstoreaccount1"; no '/' at the end
    std::string account;      // the storage account's name
    std::string container;
    std::string prefix;       // a folder inside the container, no '/' at either end ("" for none)
    std::string sas;          // the SAS query without '?', or ""
    std::string key;          // the account key (base64), or "" (then `sas`)

    // The URL of `blob` (a name inside the container), path segments percent-encoded,
    // with `query` (already encoded, may be empty) and the SAS appended.
    std::string blob_url(std::string_view blob, std::string_view query = {}) const;
    // The container's own URL (list calls), with `query` and the SAS.
    std::string container_url(std::string_view query) const;
};

// A SAS URL handed out by the service, "<account url>/<container>[/<prefix>]?<sas>", read
// into a BlobContainer. Both URL styles: the account is the host's first label
// ("acct.blob.host") or, for any other host, the path's first segment (Azurite).
std::optional<BlobContainer> container_from_sas_url(const std::string& url, std::string* error);

// The account URL a datastore's fields make: {protocol}://{account}.blob.{endpoint}.
std::string datastore_account_url(const std::string& protocol, const std::string& account, const std::string& endpoint);

// The headers every blob request needs (x-ms-date, x-ms-version) and, with an account key,
// the Shared Key Authorization computed over the request as it will be sent. Content-Type
// and Content-Length must already be set in `request` when the body has them.
void authorize_blob_request(const BlobContainer& container, HttpRequest& request);

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);
// HMAC-SHA256 of `message` under `key`: the 32 raw bytes.
std::string hmac_sha256(std::string_view key, std::string_view message);

}  // namespace amlflow::runtime::azureml
