// A small Language Server Protocol client for the tests: it starts the real
// `amlflow lsp` (AMLFLOW_BIN), frames messages onto its stdin, and reads framed messages
// from its stdout. Every wait has a deadline, so a server that hangs fails the test
// instead of hanging it; the destructor kills a server that is still running.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <deque>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

extern char** environ;

namespace amlflow::testing {

class LspClient {
public:
    using json = nlohmann::json;
    using Clock = std::chrono::steady_clock;

    // Starts `$AMLFLOW_BIN lsp` with `extra_env` ("NAME=value") added to the environment.
    explicit LspClient(const std::vector<std::string>& extra_env = {}) {
        const char* bin = std::getenv("AMLFLOW_BIN");
        if (bin == nullptr || *bin == '\0') throw std::runtime_error("AMLFLOW_BIN is not set");
        int in[2], out[2];
        if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
        posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
        std::vector<std::string> env_strings(extra_env);
        for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
        std::vector<char*> envp;
        for (std::string& e : env_strings) envp.push_back(e.data());
        envp.push_back(nullptr);
        std::string program = bin;
        char* argv[] = {program.data(), const_cast<char*>("lsp"), nullptr};
        int failed = ::posix_spawn(&pid_, bin, &actions, nullptr, argv, envp.data());
        posix_spawn_file_actions_destroy(&actions);
        ::close(in[0]);
        ::close(out[1]);
        to_server_ = in[1];
        from_server_ = out[0];
        if (failed != 0) throw std::runtime_error("cannot start " + program);
        ::signal(SIGPIPE, SIG_IGN);
    }

    ~LspClient() {
        if (to_server_ >= 0) ::close(to_server_);
        if (pid_ > 0 && !exited_) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        ::close(from_server_);
    }
    LspClient(const LspClient&) = delete;
    LspClient& operator=(const LspClient&) = delete;

    void send_raw(const std::string& bytes) {
        size_t done = 0;
        while (done < bytes.size()) {
            ssize_t wrote = ::write(to_server_, bytes.data() + done, bytes.size() - done);
            if (wrote <= 0) throw std::runtime_error("the server's stdin is closed");
            done += static_cast<size_t>(wrote);
        }
    }
    void send_body(const std::string& body) {
        send_raw("Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    }
    void send(const json& message) { send_body(message.dump()); }

    int request(const std::string& method, json params) {
        int id = next_id_++;
        send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
        return id;
    }
    void notify(const std::string& method, json params) {
        send({{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
    }

    // The response to `id`; notifications read meanwhile are kept for wait_notification.
    json wait_response(const json& id, double seconds = 10) {
        auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
        for (;;) {
            json message = next_message(deadline);
            if (message.contains("id") && message["id"] == id && !message.contains("method")) return message;
            if (message.contains("method")) notifications_.push_back(std::move(message));
        }
    }
    json call(const std::string& method, json params, double seconds = 10) {
        return wait_response(request(method, std::move(params)), seconds);
    }

    // The next notification of `method` (for publishDiagnostics: of `uri`).
    json wait_notification(const std::string& method, const std::string& uri = "", double seconds = 10) {
        auto matches = [&](const json& m) {
            return m.value("method", "") == method && (uri.empty() || m["params"].value("uri", "") == uri);
        };
        for (auto it = notifications_.begin(); it != notifications_.end(); ++it) {
            if (matches(*it)) {
                json found = *it;
                notifications_.erase(it);
                return found;
            }
        }
        auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
        for (;;) {
            json message = next_message(deadline);
            if (matches(message)) return message;
            if (message.contains("method")) notifications_.push_back(std::move(message));
        }
    }
    void drop_notifications() { notifications_.clear(); }

    // Waits for the server to exit; its exit code, or nullopt past the deadline.
    std::optional<int> wait_exit(double seconds = 10) {
        auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<int>(seconds * 1000));
        while (Clock::now() < deadline) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                exited_ = true;
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            }
            ::usleep(2000);
        }
        return std::nullopt;
    }
    bool running() {
        if (exited_) return false;
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) exited_ = true;
        return !exited_;
    }
    void close_input() {
        ::close(to_server_);
        to_server_ = -1;
    }

private:
    // Reads until one whole message is buffered; throws past the deadline.
    json next_message(Clock::time_point deadline) {
        for (;;) {
            size_t header_end = buffer_.find("\r\n\r\n");
            if (header_end != std::string::npos) {
                std::string header = buffer_.substr(0, header_end);
                size_t at = header.find("Content-Length: ");
                if (at == std::string::npos) throw std::runtime_error("a response without Content-Length: " + header);
                size_t length = std::stoul(header.substr(at + 16));
                if (buffer_.size() >= header_end + 4 + length) {
                    std::string body = buffer_.substr(header_end + 4, length);
                    buffer_.erase(0, header_end + 4 + length);
                    return json::parse(body);
                }
            }
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
            if (left <= 0) throw std::runtime_error("timed out waiting for the language server");
            pollfd fd{from_server_, POLLIN, 0};
            int ready = ::poll(&fd, 1, static_cast<int>(left));
            if (ready <= 0) continue;
            char chunk[65536];
            ssize_t got = ::read(from_server_, chunk, sizeof chunk);
            if (got <= 0) throw std::runtime_error("the language server closed its output");
            buffer_.append(chunk, static_cast<size_t>(got));
        }
    }

    pid_t pid_ = -1;
    bool exited_ = false;
    int to_server_ = -1;
    int from_server_ = -1;
    int next_id_ = 1;
    std::string buffer_;
    std::deque<json> notifications_;
};

}  // namespace amlflow::testing
