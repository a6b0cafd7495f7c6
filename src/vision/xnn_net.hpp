// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace citybrain::vision {

/// A tensor in NHWC order (batch 1): `data[(y * w + x) * c + channel]`.
struct NhwcView {
    const float* data = nullptr;
    int h = 0, w = 0, c = 0;
};

/// An ONNX convolutional network run by XNNPACK's operators, for the CPU (AVX-512 and AVX2 kernels chosen at run
/// time). The ONNX file is read with the ONNX project's own protobuf classes; each node becomes an XNNPACK operator,
/// set up once on buffers planned at load time, so a frame allocates nothing.
///
/// Covered: Conv (any groups, padding, stride, dilation), Relu, Clip, Sigmoid, HardSwish, Add, Sub, Mul (with
/// broadcasting or a constant), GlobalAveragePool, MaxPool, Concat on channels, Resize/Upsample (bilinear, 2-D),
/// Identity. A convolution's Relu or Clip is fused into it, and MobileNetV3's hard-swish, written out as
/// x * clip(x + 3, 0, 6) / 6, becomes one operator. A model with another node is refused with its op named (the
/// detector then falls back to OpenCV's DNN module).
class XnnNet {
public:
    /// Loads `path` for one input of `height` x `width` pixels, `threads` threads a frame (1: the caller's only).
    static Result<std::unique_ptr<XnnNet>> Load(const std::string& path, int height, int width, int threads);
    /// The same from the model's bytes. An error's `where` is empty: the caller knows where the bytes came from.
    static Result<std::unique_ptr<XnnNet>> FromBytes(std::string_view bytes, int height, int width, int threads);
    ~XnnNet();
    XnnNet(const XnnNet&) = delete;
    XnnNet& operator=(const XnnNet&) = delete;

    /// The input buffer, NHWC, to fill before Run.
    float* input();
    int input_channels() const;
    const std::vector<std::string>& output_names() const;
    /// Runs the network on the input buffer.
    Status Run();
    /// An output after Run, by its ONNX name; null data when there is no such output.
    NhwcView output(const std::string& name) const;
    /// How many XNNPACK operators a frame runs (after fusion).
    size_t operator_count() const;

private:
    XnnNet();
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace citybrain::vision
