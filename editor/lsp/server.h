// The language server's dispatcher: JSON-RPC 2.0 requests and notifications in,
// responses and `publishDiagnostics` out. It owns the open documents and routes each
// method to the file that answers it (hover.h, completion.h, ...).
//
// It never exits on its own: malformed JSON gets a ParseError response, an unknown
// request MethodNotFound, an unknown notification nothing, and an exception inside a
// handler an InternalError for that request alone. Only `exit` (or the end of its
// input) ends `run_server`.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "editor/lsp/document_store.h"

namespace amlflow::lsp {

class Server {
public:
    using Send = std::function<void(const nlohmann::json&)>;
    explicit Server(Send send) : send_(std::move(send)) {}

    // One message's bytes, as the transport framed them.
    void handle_message(const std::string& body);
    // A frame whose header had no usable Content-Length.
    void handle_bad_header(const std::string& why);

    // Set once `exit` arrives: 0 after `shutdown`, 1 without (as the protocol says).
    std::optional<int> exit_code() const { return exit_code_; }

private:
    void dispatch(const nlohmann::json& message);
    void request(const nlohmann::json& id, const std::string& method, const nlohmann::json& params);
    void notification(const std::string& method, const nlohmann::json& params);
    nlohmann::json answer(const std::string& method, const nlohmann::json& params);  // throws RpcError

    void did_open(const nlohmann::json& params);
    void did_change(const nlohmann::json& params);
    void did_close(const nlohmann::json& params);
    void did_save(const nlohmann::json& params);
    void publish(const Document& document);

    void respond(const nlohmann::json& id, nlohmann::json result);
    void respond_error(const nlohmann::json& id, int code, const std::string& message);

    Send send_;
    DocumentStore documents_;
    bool initialized_ = false;
    bool shut_down_ = false;
    std::optional<int> exit_code_;
};

// Serves the protocol on `in_fd`/`out_fd` until `exit` or the end of the input; returns
// the process exit code.
int run_server(int in_fd, int out_fd);

}  // namespace amlflow::lsp
