// The Azure CLI as a token source (token_sources.h): `az account get-access-token
// --resource <resource> -o json`, spawned through core/process and read through the loop.
// Its stdout holds the token, so only its stderr's last line ever reaches a message.
#include <cerrno>
#include <list>
#include <memory>

#include <unistd.h>

#include "runtime/azureml/token_sources.h"
#include "runtime/core/process.h"

namespace amlflow::runtime::azureml {
namespace {

constexpr const char* kFix = "install the Azure CLI and run 'az login'";

struct CliRun {
    explicit CliRun(EventLoop& loop) : process(loop) {}
    Process process;
    int fds[2] = {-1, -1};  // stdout, stderr
    std::string text[2];
    bool exited = false;
    bool finished = false;
    EventLoop::TimerId timer = 0;
    TokenSource::Done done;
};

std::string last_line(std::string text) {
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
    size_t newline = text.find_last_of('\n');
    if (newline != std::string::npos) text = text.substr(newline + 1);
    if (text.size() > 300) text = text.substr(0, 300) + "...";
    return text;
}

class AzureCliSource : public TokenSource {
public:
    AzureCliSource(EventLoop& loop, CredentialOptions options) : loop_(loop), options_(std::move(options)) {
        if (options_.process_env.empty()) options_.process_env = CredentialOptions::from_process_environment().process_env;
    }

    ~AzureCliSource() override {
        for (auto& run : runs_) close_run(*run);
    }

    std::string name() const override { return "azure cli (az account get-access-token)"; }

    void get_token(const std::string& scope, Done done) override {
        runs_.push_back(std::make_unique<CliRun>(loop_));
        CliRun* run = runs_.back().get();
        run->done = std::move(done);
        SpawnSpec spec;
        spec.argv = {"az", "account", "get-access-token", "--resource", scope_to_resource(scope), "-o", "json"};
        spec.env = options_.process_env;
        run->process.on_exit([this, run](const ExitStatus&) {
            run->exited = true;
            maybe_finish(run);
        });
        std::string error;
        if (!run->process.start(spec, &error)) {
            TokenResult result;
            result.unavailable = true;
            result.message = "'az' could not be started (" + error + ")";
            result.fix = kFix;
            finish(run, result);
            return;
        }
        for (int i = 0; i < 2; ++i) {
            run->fds[i] = i == 0 ? run->process.take_stdout() : run->process.take_stderr();
            loop_.watch(run->fds[i], POLLIN, [this, run, i](short) { drain(run, i); });
        }
        run->timer = loop_.after(options_.cli_timeout, [this, run] {
            run->timer = 0;
            run->process.stop(std::chrono::milliseconds(0));
            TokenResult result;
            result.unavailable = true;
            result.message = "'az' gave no token within " + std::to_string(options_.cli_timeout.count() / 1000) + " s";
            result.fix = kFix;
            finish(run, result);
        });
    }

private:
    void drain(CliRun* run, int i) {
        char buffer[4096];
        for (;;) {
            ssize_t got = ::read(run->fds[i], buffer, sizeof buffer);
            if (got > 0) {
                run->text[i].append(buffer, static_cast<size_t>(got));
                continue;
            }
            if (got < 0 && (errno == EAGAIN || errno == EINTR)) return;
            loop_.unwatch(run->fds[i]);
            ::close(run->fds[i]);
            run->fds[i] = -1;
            maybe_finish(run);
            return;
        }
    }

    void maybe_finish(CliRun* run) {
        if (!run->exited || run->fds[0] >= 0 || run->fds[1] >= 0 || run->finished) return;
        const ExitStatus& status = run->process.status();
        TokenResult result;
        if (!status.success()) {
            result.unavailable = true;
            std::string said = last_line(run->text[1]);
            result.message = "'az' failed with " + status.describe() + (said.empty() ? "" : ": " + said);
            result.fix = status.code == 127 ? kFix : "run 'az login'";
        } else if (auto token = parse_token_answer(run->text[0], std::chrono::system_clock::now())) {
            result.token = token;
        } else {
            result.message = "'az account get-access-token' printed no token";
        }
        finish(run, result);
    }

    // Hands the result over from a fresh loop round, then forgets the run: it may be in the
    // middle of its own Process callback now.
    void finish(CliRun* run, TokenResult result) {
        if (run->finished) return;
        run->finished = true;
        std::weak_ptr<bool> alive = alive_;
        loop_.after(std::chrono::milliseconds(0), [this, alive, run, result = std::move(result)] {
            if (alive.expired()) return;
            TokenSource::Done done = std::move(run->done);
            close_run(*run);
            runs_.remove_if([run](const auto& held) { return held.get() == run; });
            done(result);
        });
    }

    void close_run(CliRun& run) {
        if (run.timer) loop_.cancel(run.timer);
        run.timer = 0;
        for (int& fd : run.fds) {
            if (fd < 0) continue;
            loop_.unwatch(fd);
            ::close(fd);
            fd = -1;
        }
    }

    EventLoop& loop_;
    CredentialOptions options_;
    std::list<std::unique_ptr<CliRun>> runs_;
    std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

std::unique_ptr<TokenSource> azure_cli_source(EventLoop& loop, const CredentialOptions& options) {
    return std::make_unique<AzureCliSource>(loop, options);
}

}  // namespace amlflow::runtime::azureml
