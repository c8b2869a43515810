#pragma once
// A container's read-write layer as the image store sees it (commit, diff, the image builder's steps).
#include "cppcker/runtime/container.hpp"
#include "cppcker/storage/layer_writer.hpp"
#include "cppcker/storage/store.hpp"

namespace cppcker {

// The container's upper dir with its image's layers below it, and what the runtime puts there that is no
// change of the container's own (init files, mount targets' contents) left out.
UpperLayer container_upper_layer(const ContainerStore& containers, const ImageStore& images, const Container& c);

}  // namespace cppcker
