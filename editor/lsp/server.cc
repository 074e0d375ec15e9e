#include "editor/lsp/server.h"

#include <unistd.h>

#include <map>

#include "editor/lsp/completion.h"
#include "editor/lsp/definition.h"
#include "editor/lsp/diagnostics_json.h"
#include "editor/lsp/document_symbols.h"
#include "editor/lsp/formatting.h"
#include "editor/lsp/hover.h"
#include "editor/lsp/transport.h"

namespace amlflow::lsp {

using nlohmann::json;

namespace {

// JSON-RPC and LSP error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;
constexpr int kServerNotInitialized = -32002;

struct RpcError {
    int code;
    std::string message;
};

const json& member(const json& object, const char* key) {
    static const json null;
    if (!object.is_object()) return null;
    auto found = object.find(key);
    return found == object.end() ? null : *found;
}

std::string text_field(const json& object, const char* key) {
    const json& value = member(object, key);
    if (!value.is_string()) throw RpcError{kInvalidParams, std::string("'") + key + "' must be a string"};
    return value.get<std::string>();
}

std::string uri_of(const json& params) { return text_field(member(params, "textDocument"), "uri"); }

int64_t version_of(const json& params) {
    const json& version = member(member(params, "textDocument"), "version");
    return version.is_number_integer() ? version.get<int64_t>() : 0;
}

Position position_of(const json& params) {
    auto position = parse_position(member(params, "position"));
    if (!position) throw RpcError{kInvalidParams, "'position' must hold a line and a character"};
    return *position;
}

json capabilities() {
    return {
        {"textDocumentSync", {{"openClose", true}, {"change", 1}, {"save", {{"includeText", false}}}}},
        {"hoverProvider", true},
        {"completionProvider", {{"triggerCharacters", {".", ":", "="}}, {"resolveProvider", false}}},
        {"definitionProvider", true},
        {"documentSymbolProvider", true},
        {"documentFormattingProvider", true},
    };
}

// Applies one `contentChanges` entry: the whole text, or (should a client send ranges
// although full sync was asked for) a ranged replacement.
void apply_change(std::string& text, const json& change) {
    std::string replacement = text_field(change, "text");
    const json& range = member(change, "range");
    if (range.is_null()) {
        text = std::move(replacement);
        return;
    }
    auto start = parse_position(member(range, "start"));
    auto end = parse_position(member(range, "end"));
    if (!start || !end) throw RpcError{kInvalidParams, "a change's range is malformed"};
    TextIndex index(text);
    uint32_t begin = index.offset_of(*start), finish = std::max(begin, index.offset_of(*end));
    text.replace(begin, finish - begin, replacement);
}

}  // namespace

void Server::respond(const json& id, json result) {
    send_({{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

void Server::respond_error(const json& id, int code, const std::string& message) {
    send_({{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}});
}

void Server::handle_bad_header(const std::string& why) { respond_error(nullptr, kParseError, why); }

void Server::handle_message(const std::string& body) {
    json message = json::parse(body, nullptr, false);
    if (message.is_discarded()) return respond_error(nullptr, kParseError, "the message is not valid JSON");
    dispatch(message);
}

void Server::dispatch(const json& message) {
    if (!message.is_object()) return respond_error(nullptr, kInvalidRequest, "a message must be a JSON object");
    const json& method = member(message, "method");
    bool has_id = message.contains("id");
    json id = has_id ? message["id"] : json(nullptr);
    if (has_id && !id.is_string() && !id.is_number_integer() && !id.is_null()) {
        return respond_error(nullptr, kInvalidRequest, "'id' must be a number or a string");
    }
    if (!method.is_string()) {
        if (!has_id || message.contains("result") || message.contains("error")) return;  // a response: not ours to answer
        return respond_error(id, kInvalidRequest, "'method' must be a string");
    }
    const json& params = member(message, "params");
    if (has_id) request(id, method.get<std::string>(), params);
    else notification(method.get<std::string>(), params);
}

void Server::request(const json& id, const std::string& method, const json& params) {
    try {
        if (method == "initialize") {
            initialized_ = true;
            return respond(id, {{"capabilities", capabilities()},
                                {"serverInfo", {{"name", "amlflow"}, {"version", AMLFLOW_VERSION}}}});
        }
        if (!initialized_) return respond_error(id, kServerNotInitialized, "the server is not initialized");
        if (shut_down_) return respond_error(id, kInvalidRequest, "the server is shut down");
        if (method == "shutdown") {
            shut_down_ = true;
            return respond(id, nullptr);
        }
        respond(id, answer(method, params));
    } catch (const RpcError& error) {
        respond_error(id, error.code, error.message);
    } catch (const std::exception& error) {
        respond_error(id, kInternalError, std::string("internal error: ") + error.what());
    }
}

json Server::answer(const std::string& method, const json& params) {
    using Handler = json (*)(const Document&, const json&);
    static const std::map<std::string, std::pair<Handler, json>> handlers = {
        {"textDocument/hover", {[](const Document& d, const json& p) { return hover(d, position_of(p)); }, nullptr}},
        {"textDocument/completion",
         {[](const Document& d, const json& p) { return completion(d, position_of(p)); },
          {{"isIncomplete", false}, {"items", json::array()}}}},
        {"textDocument/definition", {[](const Document& d, const json& p) { return definition(d, position_of(p)); }, nullptr}},
        {"textDocument/documentSymbol", {[](const Document& d, const json&) { return document_symbols(d); }, json::array()}},
        {"textDocument/formatting", {[](const Document& d, const json&) { return format_document(d); }, nullptr}},
    };
    auto handler = handlers.find(method);
    if (handler == handlers.end()) throw RpcError{kMethodNotFound, "unknown method '" + method + "'"};
    Document* document = documents_.find(uri_of(params));
    if (document == nullptr) return handler->second.second;  // not open: nothing known about it
    return handler->second.first(*document, params);
}

void Server::notification(const std::string& method, const json& params) {
    try {
        if (method == "exit") {
            exit_code_ = shut_down_ ? 0 : 1;
            return;
        }
        if (!initialized_) return;  // only `exit` counts before `initialize`
        if (method == "textDocument/didOpen") did_open(params);
        else if (method == "textDocument/didChange") did_change(params);
        else if (method == "textDocument/didClose") did_close(params);
        else if (method == "textDocument/didSave") did_save(params);
        // Anything else (`initialized`, `$/cancelRequest`, `$/setTrace`, ...) needs nothing.
    } catch (const RpcError&) {
        // A malformed notification has no one to answer: it is dropped.
    } catch (const std::exception&) {
    }
}

void Server::publish(const Document& document) { send_(publish_diagnostics(document)); }

void Server::did_open(const json& params) {
    const json& item = member(params, "textDocument");
    publish(documents_.update(text_field(item, "uri"), text_field(item, "text"), version_of(params)));
}

void Server::did_change(const json& params) {
    std::string uri = uri_of(params);
    Document* document = documents_.find(uri);
    std::string text = document ? document->text : "";
    const json& changes = member(params, "contentChanges");
    if (!changes.is_array()) throw RpcError{kInvalidParams, "'contentChanges' must be an array"};
    for (const json& change : changes) apply_change(text, change);
    publish(documents_.update(uri, std::move(text), version_of(params)));
}

void Server::did_close(const json& params) {
    std::string uri = uri_of(params);
    documents_.close(uri);
    send_({{"jsonrpc", "2.0"},
           {"method", "textDocument/publishDiagnostics"},
           {"params", {{"uri", uri}, {"diagnostics", json::array()}}}});
}

void Server::did_save(const json& params) {
    // Imported files may have changed on disk: compile again.
    std::string uri = uri_of(params);
    Document* document = documents_.find(uri);
    const json& text = member(params, "text");
    if (document == nullptr && !text.is_string()) return;
    std::string current = text.is_string() ? text.get<std::string>() : document->text;
    publish(documents_.update(uri, std::move(current), document ? document->version : 0));
}

int run_server(int in_fd, int out_fd) {
    bool output_open = true;
    Server server([&](const json& message) {
        // Replace, not throw, should a message ever carry malformed UTF-8.
        if (output_open) output_open = write_frame(out_fd, message.dump(-1, ' ', false, json::error_handler_t::replace));
    });
    FrameReader reader(in_fd);
    for (;;) {
        Frame frame = reader.next();
        if (frame.kind == Frame::Kind::End) return 1;  // the client went away without `exit`
        if (frame.kind == Frame::Kind::BadHeader) server.handle_bad_header(frame.body);
        else server.handle_message(frame.body);
        if (auto code = server.exit_code()) return *code;
    }
}

}  // namespace amlflow::lsp
