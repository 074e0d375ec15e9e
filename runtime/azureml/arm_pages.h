// A resource-manager list read whole: the first page from `path`, then each `nextLink` the
// service hands out (absolute URLs on the same host, with the token), until none is left.
// A missing parent (404) is an empty list, as the service answers for a model with no
// versions.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "runtime/azureml/arm_client.h"

namespace amlflow::runtime::azureml {

using PagesDone = std::function<void(std::optional<std::vector<nlohmann::json>> items, std::string error)>;

// Every item of the list at `path` (with `extra_query`, already encoded). At most
// `max_pages` pages are read: a longer list is an error rather than an endless read.
void list_all(ArmClient& arm, const std::string& path, PagesDone done, std::string_view extra_query = {},
              int max_pages = 1000);

}  // namespace amlflow::runtime::azureml
