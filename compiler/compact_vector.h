// A vector in one pointer: size, capacity and the elements in one heap block, nothing
// allocated while it is empty. The syntax tree and the evaluated values hold a list in
// every node although most nodes hold none (an int literal has no items, no arguments,
// no string parts): std::vector's three pointers in each of them were a large share of
// a big file's memory. The part of std::vector's interface that the compiler uses.
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstdlib>
#include <initializer_list>
#include <new>
#include <utility>
#include <vector>

namespace amlflow::compiler {

template <typename T>
class CompactVector {
public:
    using value_type = T;
    using iterator = T*;
    using const_iterator = const T*;

    CompactVector() noexcept = default;
    CompactVector(std::initializer_list<T> items) { assign_copy(items.begin(), items.size()); }
    CompactVector(std::vector<T>&& items) { assign_moved(items); }  // NOLINT: as std::vector converts
    CompactVector(const CompactVector& other) { assign_copy(other.begin(), other.size()); }
    CompactVector(CompactVector&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
    ~CompactVector() { release(); }

    CompactVector& operator=(const CompactVector& other) {
        if (this != &other) {
            CompactVector copy(other);
            swap(copy);
        }
        return *this;
    }
    CompactVector& operator=(CompactVector&& other) noexcept {
        if (this != &other) {
            release();
            block_ = std::exchange(other.block_, nullptr);
        }
        return *this;
    }
    CompactVector& operator=(std::vector<T>&& items) {
        release();
        assign_moved(items);
        return *this;
    }

    size_t size() const noexcept { return block_ ? block_->size : 0; }
    bool empty() const noexcept { return size() == 0; }
    T* begin() noexcept { return data(); }
    T* end() noexcept { return data() + size(); }
    const T* begin() const noexcept { return data(); }
    const T* end() const noexcept { return data() + size(); }
    T& operator[](size_t i) noexcept { return data()[i]; }
    const T& operator[](size_t i) const noexcept { return data()[i]; }
    T& front() noexcept { return data()[0]; }
    const T& front() const noexcept { return data()[0]; }
    T& back() noexcept { return data()[size() - 1]; }
    const T& back() const noexcept { return data()[size() - 1]; }

    void reserve(size_t capacity) {
        if (capacity > (block_ ? block_->capacity : 0)) grow(capacity);
    }
    template <typename... Args>
    T& emplace_back(Args&&... args) {
        size_t n = size();
        if (!block_ || n == block_->capacity) grow(n == 0 ? 1 : n * 2);
        T* slot = new (data() + n) T(std::forward<Args>(args)...);
        ++block_->size;
        return *slot;
    }
    void push_back(const T& item) { emplace_back(item); }
    void push_back(T&& item) { emplace_back(std::move(item)); }
    T* erase(T* first, T* last) {
        T* out = std::move(last, end(), first);
        for (T* p = out; p != end(); ++p) p->~T();
        if (block_) block_->size = static_cast<uint32_t>(out - data());
        return first;
    }
    T* erase(T* at) { return erase(at, at + 1); }
    void clear() noexcept { release(); }
    void swap(CompactVector& other) noexcept { std::swap(block_, other.block_); }

private:
    struct Block {
        uint32_t size;
        uint32_t capacity;
    };
    // The elements start after the header, at the alignment T needs.
    // A function, not a constant: a Value holds a CompactVector of itself, still incomplete.
    static constexpr size_t offset() { return (sizeof(Block) + alignof(T) - 1) / alignof(T) * alignof(T); }

    T* data() const noexcept {
        return block_ ? reinterpret_cast<T*>(reinterpret_cast<char*>(block_) + offset()) : nullptr;
    }

    void grow(size_t capacity) {
        void* memory = std::malloc(offset() + capacity * sizeof(T));
        if (!memory) throw std::bad_alloc();
        Block* fresh = new (memory) Block{0, static_cast<uint32_t>(capacity)};
        T* to = reinterpret_cast<T*>(static_cast<char*>(memory) + offset());
        size_t n = size();
        for (size_t i = 0; i < n; ++i) new (to + i) T(std::move(data()[i]));
        fresh->size = static_cast<uint32_t>(n);
        release();
        block_ = fresh;
    }

    template <typename Item>
    void assign_copy(const Item* items, size_t n) {
        if (n == 0) return;
        grow(n);
        for (size_t i = 0; i < n; ++i, ++block_->size) new (data() + i) T(items[i]);
    }

    void assign_moved(std::vector<T>& items) {
        if (items.empty()) return;
        grow(items.size());
        for (size_t i = 0; i < items.size(); ++i, ++block_->size) new (data() + i) T(std::move(items[i]));
        items.clear();
    }

    void release() noexcept {
        if (!block_) return;
        T* items = data();
        for (size_t i = 0, n = block_->size; i < n; ++i) items[i].~T();
        std::free(block_);
        block_ = nullptr;
    }

    Block* block_ = nullptr;
};

}  // namespace amlflow::compiler
