#pragma once
#include <nlohmann/json.hpp>

#include "cppcker/runtime/container.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

// Docker's `container inspect` object: State, Config, HostConfig, Mounts, GraphDriver.
nlohmann::ordered_json inspect_container(const ImageStore& images, const ContainerStore& containers, const Container& c);

}  // namespace cppcker
