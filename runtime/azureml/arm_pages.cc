#include "runtime/azureml/arm_pages.h"

#include <memory>

namespace amlflow::runtime::azureml {
using nlohmann::json;

namespace {

struct Pages {
    ArmClient* arm = nullptr;
    std::vector<json> items;
    PagesDone done;
    int left = 0;
    std::string what;
};

void take(const std::shared_ptr<Pages>& pages, ArmAnswer answer) {
    if (answer.status == 404 && pages->items.empty()) return pages->done(std::vector<json>{}, "");
    if (!answer.ok()) return pages->done(std::nullopt, answer.error);
    if (!answer.body.is_object() || !answer.body.contains("value") || !answer.body["value"].is_array()) {
        return pages->done(std::nullopt, "the list at '" + pages->what + "' came without a 'value' array");
    }
    for (json& item : answer.body["value"]) pages->items.push_back(std::move(item));
    std::string next = answer.body.value("nextLink", "");
    if (next.empty()) return pages->done(std::move(pages->items), "");
    if (--pages->left <= 0) return pages->done(std::nullopt, "the list at '" + pages->what + "' has too many pages");
    pages->arm->get_url(next, true, [pages](ArmAnswer more) { take(pages, std::move(more)); });
}

}  // namespace

void list_all(ArmClient& arm, const std::string& path, PagesDone done, std::string_view extra_query, int max_pages) {
    auto pages = std::make_shared<Pages>();
    pages->arm = &arm;
    pages->done = std::move(done);
    pages->left = max_pages;
    pages->what = path;
    arm.call("GET", path, nullptr, [pages](ArmAnswer answer) { take(pages, std::move(answer)); }, kArmApiVersion,
             extra_query);
}

}  // namespace amlflow::runtime::azureml
