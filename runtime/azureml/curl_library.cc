// libcurl, loaded when the first HTTP request is made rather than when amlflow starts.
//
// Why: linked the ordinary way, libcurl brings some thirty libraries (OpenSSL, GnuTLS,
// Kerberos, LDAP, p11-kit, ...) that the dynamic linker maps, relocates and initializes
// at every start, ~5.6 MB of resident memory (measured: a C program linking libcurl has
// 7.4 MB resident against 1.5 MB without), in every `amlflow run` that supervises local
// ranks and never speaks HTTP. Only the Azure ML commands need it.
//
// How: this file defines the libcurl functions the client calls (http_client.cc, unchanged)
// and forwards each to the one of the same name in libcurl, dlopen'ed once (RTLD_LOCAL: its
// symbols stay out of everyone else's way; nothing links libcurl, so these definitions are
// not exported and libcurl's own calls stay inside libcurl). The variadic setters forward
// their one argument with the type its option number encodes (CURLOPTTYPE_*).
// A machine without libcurl gets one clear sentence when a command first needs it, and
// the exit status of a failed run's set-up; every other command works without it.
#define CURL_DISABLE_TYPECHECK  // the checking macros would rename the definitions below
#include <curl/curl.h>
#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace {

void* library() {
    static void* handle = nullptr;
    static std::once_flag once;
    std::call_once(once, [] {
        handle = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!handle) {
            const char* why = dlerror();
            std::fprintf(stderr, "amlflow: cannot load libcurl, which talking to Azure ML needs: %s\n"
                                 "hint: install it (Debian and Ubuntu: apt-get install libcurl4)\n",
                         why ? why : "not found");
            std::exit(2);
        }
    });
    return handle;
}

template <typename F>
F function(const char* name) {
    void* found = dlsym(library(), name);
    if (!found) {
        std::fprintf(stderr, "amlflow: the libcurl found has no '%s': it is older than amlflow needs\n", name);
        std::exit(2);
    }
    return reinterpret_cast<F>(found);
}

// Each forwarder looks its target up once, on its first call.
#define AMLFLOW_CURL(name) static const auto real = function<decltype(&::name)>(#name)

// An option's number says its argument's type: long, pointer, function, curl_off_t, blob.
template <typename Code, typename Handle, typename Option>
Code forward_option(Code (*real)(Handle, Option, ...), Handle handle, Option option, va_list args) {
    using Callback = void (*)();
    const long number = static_cast<long>(option);
    if (number < CURLOPTTYPE_OBJECTPOINT) return real(handle, option, va_arg(args, long));
    if (number < CURLOPTTYPE_FUNCTIONPOINT) return real(handle, option, va_arg(args, void*));
    if (number < CURLOPTTYPE_OFF_T) return real(handle, option, va_arg(args, Callback));
    if (number < CURLOPTTYPE_BLOB) return real(handle, option, va_arg(args, curl_off_t));
    return real(handle, option, va_arg(args, void*));
}

// curl_url_get's handle is `CURLU*` in older releases and `const CURLU*` in newer ones:
// take whichever the installed header declares.
template <typename F>
struct FirstParameter;
template <typename R, typename A, typename... Rest>
struct FirstParameter<R (*)(A, Rest...)> {
    using type = A;
};
using UrlGetHandle = FirstParameter<decltype(&::curl_url_get)>::type;

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
    AMLFLOW_CURL(curl_global_init);
    return real(flags);
}

CURL* curl_easy_init(void) {
    AMLFLOW_CURL(curl_easy_init);
    return real();
}

void curl_easy_cleanup(CURL* handle) {
    AMLFLOW_CURL(curl_easy_cleanup);
    real(handle);
}

CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
    AMLFLOW_CURL(curl_easy_setopt);
    va_list args;
    va_start(args, option);
    CURLcode code = forward_option(real, handle, option, args);
    va_end(args);
    return code;
}

// Every CURLINFO takes a pointer to where the answer goes.
CURLcode curl_easy_getinfo(CURL* handle, CURLINFO info, ...) {
    AMLFLOW_CURL(curl_easy_getinfo);
    va_list args;
    va_start(args, info);
    void* out = va_arg(args, void*);
    va_end(args);
    return real(handle, info, out);
}

const char* curl_easy_strerror(CURLcode code) {
    AMLFLOW_CURL(curl_easy_strerror);
    return real(code);
}

void curl_free(void* pointer) {
    AMLFLOW_CURL(curl_free);
    real(pointer);
}

CURLM* curl_multi_init(void) {
    AMLFLOW_CURL(curl_multi_init);
    return real();
}

CURLMcode curl_multi_cleanup(CURLM* multi) {
    AMLFLOW_CURL(curl_multi_cleanup);
    return real(multi);
}

CURLMcode curl_multi_add_handle(CURLM* multi, CURL* handle) {
    AMLFLOW_CURL(curl_multi_add_handle);
    return real(multi, handle);
}

CURLMcode curl_multi_remove_handle(CURLM* multi, CURL* handle) {
    AMLFLOW_CURL(curl_multi_remove_handle);
    return real(multi, handle);
}

CURLMcode curl_multi_setopt(CURLM* multi, CURLMoption option, ...) {
    AMLFLOW_CURL(curl_multi_setopt);
    va_list args;
    va_start(args, option);
    CURLMcode code = forward_option(real, multi, option, args);
    va_end(args);
    return code;
}

CURLMcode curl_multi_socket_action(CURLM* multi, curl_socket_t socket, int events, int* running) {
    AMLFLOW_CURL(curl_multi_socket_action);
    return real(multi, socket, events, running);
}

CURLMsg* curl_multi_info_read(CURLM* multi, int* left) {
    AMLFLOW_CURL(curl_multi_info_read);
    return real(multi, left);
}

struct curl_slist* curl_slist_append(struct curl_slist* list, const char* text) {
    AMLFLOW_CURL(curl_slist_append);
    return real(list, text);
}

void curl_slist_free_all(struct curl_slist* list) {
    AMLFLOW_CURL(curl_slist_free_all);
    real(list);
}

CURLU* curl_url(void) {
    AMLFLOW_CURL(curl_url);
    return real();
}

void curl_url_cleanup(CURLU* url) {
    AMLFLOW_CURL(curl_url_cleanup);
    real(url);
}

CURLUcode curl_url_get(UrlGetHandle url, CURLUPart part, char** out, unsigned int flags) {
    AMLFLOW_CURL(curl_url_get);
    return real(url, part, out, flags);
}

CURLUcode curl_url_set(CURLU* url, CURLUPart part, const char* text, unsigned int flags) {
    AMLFLOW_CURL(curl_url_set);
    return real(url, part, text, flags);
}

}  // extern "C"
