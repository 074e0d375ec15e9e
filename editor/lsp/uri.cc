#include "editor/lsp/uri.h"

#include <cctype>
#include <filesystem>

namespace amlflow::lsp {

namespace {

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

std::string percent_decode(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
        if (text[i] == '%' && i + 2 < text.size()) {
            int high = hex_value(text[i + 1]);
            int low = hex_value(text[i + 2]);
            if (high >= 0 && low >= 0) {
                out.push_back(static_cast<char>(high * 16 + low));
                i += 2;
                continue;
            }
        }
        out.push_back(text[i]);
    }
    return out;
}

bool is_unreserved(unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/';
}

}  // namespace

std::string uri_to_path(const std::string& uri) {
    const std::string prefix = "file://";
    if (uri.compare(0, prefix.size(), prefix) == 0) {
        std::string rest = uri.substr(prefix.size());
        size_t slash = rest.find('/');  // skip an authority ("file://host/path")
        rest = slash == std::string::npos ? "/" : rest.substr(slash);
        return percent_decode(rest);
    }
    std::string name;
    for (char c : uri) name.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ? c : '_');
    if (name.empty()) name = "untitled";
    std::error_code error;
    std::filesystem::path here = std::filesystem::current_path(error);
    return (here / name).string();
}

std::string path_to_uri(const std::string& path) {
    std::filesystem::path full = std::filesystem::path(path);
    if (!full.is_absolute()) {
        std::error_code error;
        full = std::filesystem::absolute(full, error);
    }
    std::string text = full.lexically_normal().generic_string();
    static const char kHex[] = "0123456789ABCDEF";
    std::string out = "file://";
    for (unsigned char c : text) {
        if (is_unreserved(c)) {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

}  // namespace amlflow::lsp
