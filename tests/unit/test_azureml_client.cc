// The Azure ML client's HTTP and retries against a real local server
// (tests/azureml/fake_service.py): requests through libcurl in the event loop, uploads of a
// file range, timeouts, resets, refused schemes, and the retry rules with Retry-After.
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "runtime/azureml/http_client.h"
#include "runtime/azureml/retrying.h"
#include "azureml_test_support.h"
#include "test_support.h"

namespace az = amlflow::runtime::azureml;
using amlflow::runtime::EventLoop;
using amlflow::testing::fake_service;
using amlflow::testing::fresh_key;
using amlflow::testing::run_request;
using amlflow::testing::run_retrying;
using amlflow::testing::service_stats;
using nlohmann::json;

namespace {

az::HttpRequest request_to(const std::string& path, const std::string& method = "GET") {
    az::HttpRequest request;
    request.method = method;
    request.url = fake_service().base() + path;
    return request;
}

az::RetryOptions quick_retries(int tries) {
    az::RetryOptions options;
    options.max_tries = tries;
    options.base_delay = std::chrono::milliseconds(5);
    options.max_delay = std::chrono::milliseconds(20);
    return options;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(azureml_http)

BOOST_AUTO_TEST_CASE(methods_headers_and_bodies_reach_the_server_as_sent) {
    EventLoop loop;
    az::HttpClient http(loop);
    for (const char* method : {"GET", "PUT", "POST", "DELETE", "PATCH"}) {
        az::HttpRequest request = request_to("/echo?x=1", method);
        request.headers = {{"X-Custom", "value 1"}};
        if (std::string(method) != "GET" && std::string(method) != "DELETE") request.body = std::string("body of ") + method;
        az::HttpResponse response = run_request(loop, http, request);
        BOOST_TEST_REQUIRE(response.ok(), method << ": " << response.summary());
        json echo = json::parse(response.body);
        BOOST_TEST(echo["method"] == method);
        BOOST_TEST(echo["query"]["x"] == "1");
        BOOST_TEST(echo["headers"]["x-custom"] == "value 1");
        BOOST_TEST(echo["body"] == request.body);
        // No Content-Type of libcurl's choosing: a Shared Key signature covers what is sent.
        BOOST_TEST(!echo["headers"].contains("content-type"), method);
        BOOST_TEST(!echo["headers"].contains("expect"), method);
        BOOST_TEST_REQUIRE(response.header("X-ECHO") != nullptr);
        BOOST_TEST(*response.header("x-echo") == "yes");
    }
    az::HttpRequest typed = request_to("/echo", "PUT");
    typed.headers = {{"Content-Type", "application/json"}};
    typed.body = "{}";
    BOOST_TEST(json::parse(run_request(loop, http, typed).body)["headers"]["content-type"] == "application/json");
    az::HttpResponse head = run_request(loop, http, request_to("/echo", "HEAD"));
    BOOST_TEST(head.ok());
    BOOST_TEST(head.body.empty());
}

BOOST_AUTO_TEST_CASE(an_upload_sends_exactly_its_file_range) {
    amlflow::testing::TempProject project;
    std::filesystem::path file = project.write("blob.bin", "0123456789abcdef");
    EventLoop loop;
    az::HttpClient http(loop);
    az::HttpRequest request = request_to("/echo", "PUT");
    request.upload = az::UploadRange{file.string(), 3, 7};
    az::HttpResponse response = run_request(loop, http, request);
    BOOST_TEST_REQUIRE(response.ok(), response.summary());
    json echo = json::parse(response.body);
    BOOST_TEST(echo["body"] == "3456789");
    BOOST_TEST(echo["headers"]["content-length"] == "7");

    request.upload = az::UploadRange{(project.root() / "missing.bin").string(), 0, 4};
    response = run_request(loop, http, request);
    BOOST_TEST(!response.answered());
    BOOST_TEST((response.error == az::TransportError::kFile));
    BOOST_TEST(response.error_text.find("missing.bin") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(requests_run_concurrently_and_never_block_the_loop) {
    EventLoop loop;
    az::HttpClient http(loop);
    std::string key = fresh_key("concurrent");
    int answered = 0;
    for (int i = 0; i < 8; ++i) {
        http.send(request_to("/slow/" + key + "?times=100&seconds=0.5"), [&](az::HttpResponse r) {
            BOOST_TEST(r.ok(), r.summary());
            ++answered;
        });
    }
    // A timer due long before any answer runs while all eight are still in flight: the
    // loop keeps turning while libcurl waits.
    std::size_t in_flight_at_timer = 0;
    loop.after(std::chrono::milliseconds(50), [&] { in_flight_at_timer = http.in_flight(); });
    loop.run_until([&] { return answered == 8; });
    BOOST_TEST(in_flight_at_timer == 8u);
    BOOST_TEST(http.in_flight() == 0u);
}

BOOST_AUTO_TEST_CASE(timeouts_resets_and_closed_ports_are_told_apart) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::HttpRequest slow = request_to("/slow/" + fresh_key("timeout") + "?times=1&seconds=3");
    slow.timeout = std::chrono::milliseconds(300);
    az::HttpResponse response = run_request(loop, http, slow);
    BOOST_TEST((response.error == az::TransportError::kTimeout), response.summary());

    response = run_request(loop, http, request_to("/reset/" + fresh_key("reset") + "?times=1"));
    BOOST_TEST((response.error == az::TransportError::kReset), response.summary());

    az::HttpRequest closed;
    closed.url = "http://127.0.0.1:" + std::to_string(amlflow::testing::closed_port()) + "/";
    response = run_request(loop, http, closed);
    BOOST_TEST((response.error == az::TransportError::kConnect), response.summary());
}

BOOST_AUTO_TEST_CASE(plain_http_only_reaches_loopback) {
    for (const char* url : {"http://127.0.0.1:1/x", "http://127.3.4.5/", "http://localhost:80/a?b=c",
                            "http://[::1]:8080/", "http://devstoreaccount1.blob.localhost:10000/c",
                            "https://management.azure.com/subscriptions", "https://10.1.2.3/",
                            "http://169.254.169.254/metadata/identity/oauth2/token"}) {
        BOOST_TEST(az::url_refusal(url).empty(), url << ": " << az::url_refusal(url));
    }
    for (const char* url : {"http://management.azure.com/", "http://10.0.0.1/", "http://127.0.0.1.evil.com/",
                            "http://localhost.evil.com/", "ftp://127.0.0.1/", "file:///etc/passwd", "not a url"}) {
        BOOST_TEST(!az::url_refusal(url).empty(), url);
    }
    EventLoop loop;
    az::HttpClient http(loop);
    az::HttpRequest request;
    request.url = "http://example.com/path?sig=SAS-SECRET";
    bool called_inline = false, in_send = true;
    std::optional<az::HttpResponse> got;
    http.send(request, [&](az::HttpResponse r) {
        called_inline = in_send;
        got = std::move(r);
    });
    in_send = false;
    loop.run_until([&] { return got.has_value(); });
    BOOST_TEST(!called_inline);
    BOOST_TEST((got->error == az::TransportError::kRefusedUrl));
    BOOST_TEST(got->error_text.find("only loopback hosts") != std::string::npos, got->error_text);
    BOOST_TEST(got->error_text.find("SAS-SECRET") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_cancelled_request_never_calls_back) {
    EventLoop loop;
    az::HttpClient http(loop);
    bool called = false;
    auto id = http.send(request_to("/slow/" + fresh_key("cancel") + "?times=1&seconds=0.3"),
                        [&](az::HttpResponse) { called = true; });
    http.cancel(id);
    BOOST_TEST(http.in_flight() == 0u);
    loop.run_until([] { return false; }, EventLoop::Clock::now() + std::chrono::milliseconds(500));
    BOOST_TEST(!called);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(azureml_retries)

BOOST_AUTO_TEST_CASE(transient_statuses_are_retried_until_an_answer) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    for (int status : {408, 429, 500, 502, 503, 504}) {
        std::string key = fresh_key("status");
        az::HttpRequest request = request_to("/fail/" + key + "?times=2&status=" + std::to_string(status), "PUT");
        az::HttpResponse response = run_retrying(loop, client, request, quick_retries(5));
        BOOST_TEST(response.ok(), status << ": " << response.summary());
        BOOST_TEST(response.tries == 3);
        BOOST_TEST(service_stats(loop, http, key)["count"] == 3);
    }
    // A client error is an answer, not a fault.
    std::string key = fresh_key("notfound");
    az::HttpResponse response = run_retrying(loop, client, request_to("/fail/" + key + "?times=5&status=404"), quick_retries(5));
    BOOST_TEST(response.status == 404);
    BOOST_TEST(response.tries == 1);
}

BOOST_AUTO_TEST_CASE(the_servers_retry_after_is_waited_for) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    std::string key = fresh_key("retry-after");
    az::HttpResponse response =
        run_retrying(loop, client, request_to("/fail/" + key + "?times=1&status=429&retry_after=1"), quick_retries(3));
    BOOST_TEST_REQUIRE(response.ok(), response.summary());
    json times = service_stats(loop, http, key)["times"];
    // The backoff alone would be at most 20 ms; the server asked for a second.
    BOOST_TEST(times[1].get<double>() - times[0].get<double>() >= 0.95);
    BOOST_TEST(response.history[0].find("as asked") != std::string::npos, response.history[0]);

    key = fresh_key("retry-after-ms");
    response = run_retrying(loop, client, request_to("/fail/" + key + "?times=1&status=503&retry_after_ms=600"),
                            quick_retries(3));
    BOOST_TEST_REQUIRE(response.ok(), response.summary());
    times = service_stats(loop, http, key)["times"];
    BOOST_TEST(times[1].get<double>() - times[0].get<double>() >= 0.55);
}

BOOST_AUTO_TEST_CASE(retry_after_as_seconds_date_or_milliseconds) {
    auto now = std::chrono::system_clock::from_time_t(1700000000);  // Tue, 14 Nov 2023 22:13:20 GMT
    az::HttpResponse response;
    response.status = 503;
    BOOST_TEST(!az::server_retry_after(response, now).has_value());
    response.headers = {{"retry-after", "7"}};
    BOOST_TEST(az::server_retry_after(response, now)->count() == 7000);
    response.headers = {{"retry-after", "Tue, 14 Nov 2023 22:13:50 GMT"}};
    BOOST_TEST(az::server_retry_after(response, now)->count() == 30000);
    response.headers = {{"retry-after", "Tue, 14 Nov 2023 22:00:00 GMT"}};  // in the past
    BOOST_TEST(az::server_retry_after(response, now)->count() == 0);
    response.headers = {{"retry-after", "7"}, {"x-ms-retry-after-ms", "250"}};
    BOOST_TEST(az::server_retry_after(response, now)->count() == 250);
    response.headers = {{"retry-after", "soon"}};
    BOOST_TEST(!az::server_retry_after(response, now).has_value());
}

BOOST_AUTO_TEST_CASE(backoff_is_exponential_with_full_jitter) {
    az::RetryOptions options;
    options.base_delay = std::chrono::milliseconds(100);
    options.max_delay = std::chrono::milliseconds(1000);
    std::mt19937_64 random(42);
    for (int retry = 1; retry <= 8; ++retry) {
        long long ceiling = std::min(1000LL, 100LL << (retry - 1));
        long long lowest = ceiling, highest = 0;
        for (int i = 0; i < 400; ++i) {
            long long wait = az::backoff_delay(retry, options, random).count();
            lowest = std::min(lowest, wait);
            highest = std::max(highest, wait);
        }
        BOOST_TEST(highest <= ceiling);
        BOOST_TEST(highest > ceiling * 3 / 4, "retry " << retry);  // spread up to the ceiling
        BOOST_TEST(lowest < ceiling / 4, "retry " << retry);       // and down to nothing
    }
}

BOOST_AUTO_TEST_CASE(resets_and_slow_answers_are_retried) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    std::string key = fresh_key("resets");
    az::HttpResponse response = run_retrying(loop, client, request_to("/reset/" + key + "?times=2"), quick_retries(4));
    BOOST_TEST(response.ok(), response.summary());
    BOOST_TEST(response.tries == 3);
    BOOST_TEST(response.history[0].find("connection reset") != std::string::npos, response.history[0]);

    key = fresh_key("slow");
    az::HttpRequest slow = request_to("/slow/" + key + "?times=1&seconds=3", "DELETE");
    slow.timeout = std::chrono::milliseconds(300);
    response = run_retrying(loop, client, slow, quick_retries(3));
    BOOST_TEST(response.ok(), response.summary());
    BOOST_TEST(response.tries == 2);
}

BOOST_AUTO_TEST_CASE(a_post_is_retried_only_when_marked_idempotent) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    std::string key = fresh_key("post");
    az::HttpResponse response =
        run_retrying(loop, client, request_to("/fail/" + key + "?times=1&status=503", "POST"), quick_retries(3));
    BOOST_TEST(response.status == 503);
    BOOST_TEST(response.tries == 1);
    BOOST_TEST(service_stats(loop, http, key)["count"] == 1);
    BOOST_TEST(az::describe_tries(request_to("/x", "POST"), response).find("not retried") != std::string::npos);

    key = fresh_key("post-idempotent");
    az::RetryOptions options = quick_retries(3);
    options.idempotent_post = true;
    response = run_retrying(loop, client, request_to("/fail/" + key + "?times=1&status=503", "POST"), options);
    BOOST_TEST(response.ok());
    BOOST_TEST(service_stats(loop, http, key)["count"] == 2);

    // A refused connection sent nothing: even a plain POST tries again.
    az::HttpRequest closed;
    closed.method = "POST";
    closed.url = "http://127.0.0.1:" + std::to_string(amlflow::testing::closed_port()) + "/cancel";
    response = run_retrying(loop, client, closed, quick_retries(2));
    BOOST_TEST(response.tries == 2);
}

BOOST_AUTO_TEST_CASE(the_final_error_says_what_was_tried_and_keeps_the_query_out) {
    EventLoop loop;
    az::HttpClient http(loop);
    az::RetryingClient client(http);
    std::string key = fresh_key("exhausted");
    az::HttpRequest request = request_to("/fail/" + key + "?times=99&status=500&sig=SAS-SECRET");
    az::HttpResponse response = run_retrying(loop, client, request, quick_retries(3));
    BOOST_TEST(response.status == 500);
    BOOST_TEST(response.tries == 3);
    BOOST_TEST(service_stats(loop, http, key)["count"] == 3);
    std::string text = az::describe_tries(request, response);
    BOOST_TEST(text == "GET " + fake_service().base() + "/fail/" + key + ": 3 tries: 500, 500, 500");
    BOOST_TEST(text.find("SAS-SECRET") == std::string::npos);

    key = fresh_key("too-long");
    response = run_retrying(loop, client, request_to("/fail/" + key + "?times=1&status=429&retry_after=3600"),
                            quick_retries(3));
    BOOST_TEST(response.status == 429);
    BOOST_TEST(response.tries == 1);
    BOOST_TEST(response.history[0].find("asked to wait 3600.0 s") != std::string::npos, response.history[0]);
}

BOOST_AUTO_TEST_SUITE_END()
