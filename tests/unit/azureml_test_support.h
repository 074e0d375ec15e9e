// Shared by the test_azureml suites: the canned-answer server (tests/azureml/fake_service.py)
// on a free loopback port, started once per test process, and a way to run one request to
// its end on a test's own event loop.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <optional>
#include <stdexcept>
#include <string>

#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "runtime/azureml/retrying.h"

extern char** environ;

namespace amlflow::testing {

class FakeService {
public:
    FakeService() {
        int out[2];
        if (pipe(out) != 0) throw std::runtime_error("pipe");
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        posix_spawn_file_actions_addclose(&actions, out[0]);
        posix_spawnattr_t attr;
        posix_spawnattr_init(&attr);
        sigset_t none, defaults;
        sigemptyset(&none);
        sigemptyset(&defaults);
        for (int s : {SIGCHLD, SIGINT, SIGTERM}) sigaddset(&defaults, s);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &defaults);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        std::string script = std::string(AMLFLOW_SOURCE_DIR) + "/tests/azureml/fake_service.py";
        char* argv[] = {const_cast<char*>("/usr/bin/python3"), const_cast<char*>(script.c_str()), nullptr};
        int rc = posix_spawn(&pid_, argv[0], &actions, &attr, argv, environ);
        posix_spawn_file_actions_destroy(&actions);
        posix_spawnattr_destroy(&attr);
        close(out[1]);
        if (rc != 0) throw std::runtime_error("cannot start fake_service.py");
        FILE* in = fdopen(out[0], "r");
        char line[64] = {0};
        if (!fgets(line, sizeof line, in)) throw std::runtime_error("fake_service.py printed no port");
        fclose(in);
        port_ = std::atoi(line);
    }
    ~FakeService() {
        kill(pid_, SIGTERM);
        waitpid(pid_, nullptr, 0);
    }
    std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }

private:
    pid_t pid_ = -1;
    int port_ = 0;
};

inline FakeService& fake_service() {
    static FakeService service;
    return service;
}

// A loopback port nothing listens on (bound, then closed).
inline int closed_port() {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    socklen_t size = sizeof address;
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size);
    close(fd);
    return ntohs(address.sin_port);
}

inline runtime::azureml::HttpResponse run_request(runtime::EventLoop& loop, runtime::azureml::HttpClient& http,
                                                  runtime::azureml::HttpRequest request) {
    std::optional<runtime::azureml::HttpResponse> got;
    http.send(std::move(request), [&](runtime::azureml::HttpResponse r) { got = std::move(r); });
    loop.run_until([&] { return got.has_value(); });
    return *got;
}

inline runtime::azureml::HttpResponse run_retrying(runtime::EventLoop& loop, runtime::azureml::RetryingClient& client,
                                                   runtime::azureml::HttpRequest request,
                                                   const runtime::azureml::RetryOptions& options) {
    std::optional<runtime::azureml::HttpResponse> got;
    client.send(std::move(request), options, [&](runtime::azureml::HttpResponse r) { got = std::move(r); });
    loop.run_until([&] { return got.has_value(); });
    return *got;
}

// What the fake service saw under `key`: {"count", "times" (monotonic s), "requests"}.
inline nlohmann::json service_stats(runtime::EventLoop& loop, runtime::azureml::HttpClient& http, const std::string& key) {
    runtime::azureml::HttpRequest request;
    request.url = fake_service().base() + "/stats/" + key;
    return nlohmann::json::parse(run_request(loop, http, request).body);
}

// A key no other test (or earlier run of this process) used.
inline std::string fresh_key(const std::string& name) {
    static int counter = 0;
    return name + "-" + std::to_string(getpid()) + "-" + std::to_string(++counter);
}

}  // namespace amlflow::testing
