// The compact containers behind the syntax tree and the evaluated values: a CompactVector
// behaves as the std::vector it replaced, and a Value copies its detail (a file()'s digest,
// an Output's step) instead of sharing it.
#include <boost/test/unit_test.hpp>

#include <memory>
#include <string>

#include "compiler/compact_vector.h"
#include "compiler/value.h"

using namespace amlflow::compiler;

BOOST_AUTO_TEST_SUITE(compact_value)

BOOST_AUTO_TEST_CASE(compact_vector_grows_erases_and_copies) {
    CompactVector<std::string> v;
    BOOST_TEST(v.empty());
    BOOST_TEST((v.begin() == v.end()));
    for (int i = 0; i < 100; ++i) v.push_back("item number " + std::to_string(i));  // past the short-string size
    BOOST_TEST(v.size() == 100u);
    BOOST_TEST(v.front() == "item number 0");
    BOOST_TEST(v.back() == "item number 99");
    v.erase(v.begin() + 10, v.begin() + 90);
    BOOST_TEST(v.size() == 20u);
    BOOST_TEST(v[9] == "item number 9");
    BOOST_TEST(v[10] == "item number 90");
    CompactVector<std::string> copy = v;
    copy[0] = "changed";
    BOOST_TEST(v[0] == "item number 0");
    CompactVector<std::string> moved = std::move(copy);
    BOOST_TEST(copy.empty());  // NOLINT: a moved-from CompactVector is empty
    BOOST_TEST(moved.size() == 20u);
    moved.clear();
    BOOST_TEST(moved.empty());
}

BOOST_AUTO_TEST_CASE(compact_vector_takes_a_std_vector_of_move_only_items) {
    std::vector<std::unique_ptr<int>> items;
    for (int i = 0; i < 5; ++i) items.push_back(std::make_unique<int>(i));
    CompactVector<std::unique_ptr<int>> v(std::move(items));
    BOOST_TEST(v.size() == 5u);
    int sum = 0;
    for (const auto& item : v) sum += *item;
    BOOST_TEST(sum == 10);
    v = std::vector<std::unique_ptr<int>>{};
    BOOST_TEST(v.empty());
}

BOOST_AUTO_TEST_CASE(value_copies_its_detail_and_numbers) {
    Value path = Value::of_path("data.csv", "abc123");
    Value copy = path;
    copy.detail().digest = "other";
    BOOST_TEST(path.digest() == "abc123");
    BOOST_TEST(copy.digest() == "other");
    BOOST_TEST(Value::of_path("x").digest().empty());

    Value list = Value::list({Value::of_float(0.25), Value::of_int(-3), path});
    Value copied = list;
    BOOST_TEST(copied.items.size() == 3u);
    BOOST_TEST(copied.items[0].real == 0.25);
    BOOST_TEST(copied.items[1].number == -3);
    BOOST_TEST(copied.items[2].digest() == "abc123");
    BOOST_TEST(show_value(copied) == "[0.25, -3, \"data.csv\"]");

    Value map;
    map.kind = ValueKind::Map;
    map.fields.emplace_back("a", Value::of_int(1));
    Value overrides = map;
    overrides.fields[0].second = Value::of_int(2);
    overrides.fields.emplace_back("b", Value::of_string("x"));
    map.merge(overrides);
    BOOST_TEST(show_value(map) == "{ a = 2, b = \"x\" }");
}

BOOST_AUTO_TEST_SUITE_END()
