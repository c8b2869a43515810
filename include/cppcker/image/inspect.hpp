#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "cppcker/storage/store.hpp"

namespace cppcker {

// Docker's `image inspect` object for one stored image.
nlohmann::ordered_json inspect_image(const ImageStore& store, const std::string& image_id);

}  // namespace cppcker
