// SPDX-License-Identifier: Apache-2.0
#include "vision/xnn_net.hpp"

#include <onnx/onnx_pb.h>
#include <pthreadpool.h>
#include <xnnpack.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <limits>
#include <mutex>
#include <optional>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace citybrain::vision {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
/// The most elements one tensor may have (1 GiB of floats): a model file cannot make the runtime allocate more.
constexpr size_t kMaxElements = size_t{1} << 28;
/// The most activation memory a model may plan, in floats (4 GiB).
constexpr size_t kMaxArena = size_t{1} << 30;
/// The largest stride, dilation, padding or kernel side accepted.
constexpr int64_t kMaxSide = 4096;

/// A tensor the network computes: NHWC, batch 1.
struct Value {
    std::array<size_t, 4> shape{1, 1, 1, 1};  // n, h, w, c
    int first_def = INT_MAX;                  // the first operator that writes it (-1: the input)
    int last_use = -1;                        // the last operator that reads it
    int slot = -1;
    float* data = nullptr;
    size_t size() const { return shape[0] * shape[1] * shape[2] * shape[3]; }
};

enum class Kind { kConv, kClamp, kSigmoid, kHardSwish, kAdd, kSub, kMul, kGlobalAvg, kMaxPool, kCopy, kResize };

struct Op {
    Kind kind = Kind::kConv;
    xnn_operator_t op = nullptr;
    std::array<int, 2> in{-1, -1};  // value ids; -1 with `constant` set: that operand is a constant
    int out = -1;
    int constant = -1;  // index into Impl::constants for a binary operator's constant operand
    std::array<size_t, 4> shape_a{}, shape_b{};
    size_t channel_offset = 0;  // a copy into a concatenation
    size_t out_h = 0, out_w = 0;
};

struct NodeError {
    const onnx::NodeProto& node;
    Error operator()(const std::string& why) const {
        return Error{ErrorCode::kInvalidArgument, "node " + node.name() + " (" + node.op_type() + "): " + why, ""};
    }
};

const onnx::AttributeProto* Attr(const onnx::NodeProto& node, const char* name) {
    for (const auto& a : node.attribute())
        if (a.name() == name) return &a;
    return nullptr;
}
int64_t IntAttr(const onnx::NodeProto& node, const char* name, int64_t fallback) {
    const auto* a = Attr(node, name);
    return a != nullptr ? a->i() : fallback;
}
float FloatAttr(const onnx::NodeProto& node, const char* name, float fallback) {
    const auto* a = Attr(node, name);
    return a != nullptr ? a->f() : fallback;
}
std::string StringAttr(const onnx::NodeProto& node, const char* name, const std::string& fallback) {
    const auto* a = Attr(node, name);
    return a != nullptr ? a->s() : fallback;
}
std::vector<int64_t> IntsAttr(const onnx::NodeProto& node, const char* name, std::vector<int64_t> fallback) {
    const auto* a = Attr(node, name);
    if (a == nullptr) return fallback;
    return {a->ints().begin(), a->ints().end()};
}

/// An initializer's values as floats (FLOAT or INT64 tensors); nullopt for another type.
std::optional<std::vector<float>> ConstantValues(const onnx::TensorProto& t) {
    size_t n = 1;
    for (const int64_t d : t.dims()) {
        if (d < 1 || d > static_cast<int64_t>(kMaxElements)) return std::nullopt;
        n *= static_cast<size_t>(d);
        if (n > kMaxElements) return std::nullopt;
    }
    std::vector<float> v;
    if (t.data_type() == onnx::TensorProto::FLOAT) {
        if (!t.raw_data().empty()) {
            if (t.raw_data().size() != n * sizeof(float)) return std::nullopt;
            v.resize(n);
            std::memcpy(v.data(), t.raw_data().data(), n * sizeof(float));
        } else {
            if (static_cast<size_t>(t.float_data_size()) != n) return std::nullopt;
            v.assign(t.float_data().begin(), t.float_data().end());
        }
    } else if (t.data_type() == onnx::TensorProto::INT64) {
        if (!t.raw_data().empty()) {
            if (t.raw_data().size() != n * sizeof(int64_t)) return std::nullopt;
            std::vector<int64_t> raw(n);
            std::memcpy(raw.data(), t.raw_data().data(), n * sizeof(int64_t));
            v.assign(raw.begin(), raw.end());
        } else {
            if (static_cast<size_t>(t.int64_data_size()) != n) return std::nullopt;
            v.assign(t.int64_data().begin(), t.int64_data().end());
        }
    } else {
        return std::nullopt;
    }
    return v;
}

bool InRange(const std::vector<int64_t>& v, int64_t lowest) {
    return std::all_of(v.begin(), v.end(), [&](int64_t x) { return x >= lowest && x <= kMaxSide; });
}

/// floor(len * scale), or 0 when that is not a side from 1 to kMaxSide.
size_t Scaled(size_t len, float scale) {
    const double side = std::floor(static_cast<double>(len) * static_cast<double>(scale));
    return std::isfinite(side) && side >= 1 && side <= static_cast<double>(kMaxSide) ? static_cast<size_t>(side) : 0;
}

Error XnnError(xnn_status status, const std::string& what) {
    return Error{ErrorCode::kInternal, "XNNPACK refused " + what + " (status " + std::to_string(status) + ")", ""};
}

}  // namespace

struct XnnNet::Impl {
    onnx::ModelProto model;
    std::unordered_map<std::string, const onnx::TensorProto*> initializers;
    std::unordered_map<std::string, int> value_of;  // ONNX name -> value id
    std::vector<Value> values;
    std::vector<Op> ops;
    std::vector<std::vector<float>> constants;  // binary operands, NHWC, padded for XNNPACK's over-reads
    std::vector<std::vector<float>> slots;
    std::vector<std::string> outputs;
    pthreadpool_t pool = nullptr;
    int input = -1;
    int opset = 13;

    ~Impl() {
        for (Op& op : ops)
            if (op.op != nullptr) xnn_delete_operator(op.op);
        if (pool != nullptr) pthreadpool_destroy(pool);
    }

    const onnx::TensorProto* Constant(const std::string& name) const {
        auto it = initializers.find(name);
        return it == initializers.end() ? nullptr : it->second;
    }
    /// A new computed tensor; -1 when it would be larger than kMaxElements.
    int NewValue(const std::string& name, std::array<size_t, 4> shape) {
        size_t n = 1;
        for (const size_t d : shape) {
            if (d < 1 || d > kMaxElements) return -1;
            n *= d;
            if (n > kMaxElements) return -1;
        }
        values.push_back(Value{shape});
        value_of[name] = static_cast<int>(values.size()) - 1;
        return static_cast<int>(values.size()) - 1;
    }
    Result<int> Runtime(const onnx::NodeProto& node, int index) const {
        if (index >= node.input_size()) return NodeError{node}("input " + std::to_string(index) + " is missing");
        auto it = value_of.find(node.input(index));
        if (it == value_of.end()) return NodeError{node}("input " + node.input(index) + " is not computed before it");
        return it->second;
    }
    Status Translate(int height, int width);
    Status Plan();
    Status Setup();
};

XnnNet::XnnNet() : impl_(std::make_unique<Impl>()) {}
XnnNet::~XnnNet() = default;
float* XnnNet::input() { return impl_->values[static_cast<size_t>(impl_->input)].data; }
const std::vector<std::string>& XnnNet::output_names() const { return impl_->outputs; }
size_t XnnNet::operator_count() const { return impl_->ops.size(); }
int XnnNet::input_channels() const {
    return static_cast<int>(impl_->values[static_cast<size_t>(impl_->input)].shape[3]);
}

NhwcView XnnNet::output(const std::string& name) const {
    auto it = impl_->value_of.find(name);
    if (it == impl_->value_of.end()) return {};
    const Value& v = impl_->values[static_cast<size_t>(it->second)];
    return {v.data, static_cast<int>(v.shape[1]), static_cast<int>(v.shape[2]), static_cast<int>(v.shape[3])};
}

Status XnnNet::Run() {
    for (const Op& op : impl_->ops) {
        const xnn_status s = xnn_run_operator(op.op, impl_->pool);
        if (s != xnn_status_success) return XnnError(s, "to run an operator");
    }
    return {};
}

Result<std::unique_ptr<XnnNet>> XnnNet::Load(const std::string& path, int height, int width, int threads) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return NotFound(path, "cannot open the model");
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto net = FromBytes(bytes, height, width, threads);
    if (!net.ok()) {
        Error e = net.error();
        if (e.where.empty()) e.where = path;
        return e;
    }
    return net;
}

Result<std::unique_ptr<XnnNet>> XnnNet::FromBytes(std::string_view bytes, int height, int width, int threads) {
    if (height < 1 || height > kMaxSide || width < 1 || width > kMaxSide)
        return InvalidArgument("", "the input's sides must be 1 to " + std::to_string(kMaxSide));
    static std::once_flag once;
    static xnn_status init = xnn_status_uninitialized;
    std::call_once(once, [] { init = xnn_initialize(nullptr); });
    if (init != xnn_status_success) {
        return Error{
            ErrorCode::kFailedPrecondition, "XNNPACK cannot run on this CPU (status " + std::to_string(init) + ")", ""};
    }
    std::unique_ptr<XnnNet> net(new XnnNet());
    Impl& m = *net->impl_;
    if (bytes.size() > static_cast<size_t>(INT_MAX) ||
        !m.model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
        return InvalidArgument("", "not an ONNX model (protobuf parse failed)");
    for (const auto& op : m.model.opset_import())
        if (op.domain().empty() || op.domain() == "ai.onnx") m.opset = static_cast<int>(op.version());
    if (threads > 1) m.pool = pthreadpool_create(static_cast<size_t>(threads));
    if (Status s = m.Translate(height, width); !s.ok()) return s.error();
    if (Status s = m.Plan(); !s.ok()) return s.error();
    if (Status s = m.Setup(); !s.ok()) return s.error();
    return net;
}

Status XnnNet::Impl::Translate(int height, int width) {
    const onnx::GraphProto& g = model.graph();
    for (const auto& t : g.initializer()) initializers[t.name()] = &t;
    for (const auto& in : g.input()) {
        if (initializers.count(in.name()) != 0) continue;
        const auto& dims = in.type().tensor_type().shape().dim();
        if (dims.size() != 4) return InvalidArgument("", "input " + in.name() + ": not a 4-D NCHW image tensor");
        const int64_t channels = dims[1].dim_value() > 0 ? dims[1].dim_value() : 3;
        input = NewValue(in.name(),
                         {1, static_cast<size_t>(height), static_cast<size_t>(width), static_cast<size_t>(channels)});
        if (input < 0) return InvalidArgument("", "input " + in.name() + ": its channels are out of range");
        values[static_cast<size_t>(input)].first_def = -1;
        break;
    }
    if (input < 0) return InvalidArgument("", "the model has no input");
    for (const auto& out : g.output()) outputs.push_back(out.name());

    // Who reads each name, and who writes it, for the fusions.
    std::unordered_map<std::string, std::vector<int>> readers;
    std::unordered_map<std::string, int> writer;
    for (int i = 0; i < g.node_size(); ++i) {
        if (g.node(i).output_size() < 1) return NodeError{g.node(i)}("no output");
        for (const auto& x : g.node(i).input()) readers[x].push_back(i);
        for (const auto& x : g.node(i).output()) writer[x] = i;
    }
    const std::unordered_set<std::string> graph_outputs(outputs.begin(), outputs.end());
    auto sole_reader = [&](const std::string& name) -> int {
        auto it = readers.find(name);
        if (it == readers.end() || it->second.size() != 1 || graph_outputs.count(name) != 0) return -1;
        return it->second.front();
    };
    auto scalar = [&](const std::string& name, float want) {
        const auto* t = Constant(name);
        if (t == nullptr) return false;
        auto v = ConstantValues(*t);
        return v && v->size() == 1 && std::fabs((*v)[0] - want) < 1e-6F;
    };
    auto clip_bounds = [&](const onnx::NodeProto& n) -> std::optional<std::pair<float, float>> {
        if (n.op_type() == "Relu") return std::pair{0.0F, kInf};
        if (n.op_type() != "Clip") return std::nullopt;
        if (opset < 11) return std::pair{FloatAttr(n, "min", -kInf), FloatAttr(n, "max", kInf)};
        float lo = -kInf, hi = kInf;
        for (int k = 1; k <= 2 && k < n.input_size(); ++k) {
            if (n.input(k).empty()) continue;
            const auto* t = Constant(n.input(k));
            if (t == nullptr) return std::nullopt;
            auto v = ConstantValues(*t);
            if (!v || v->size() != 1) return std::nullopt;
            (k == 1 ? lo : hi) = (*v)[0];
        }
        return std::pair{lo, hi};
    };

    // MobileNetV3's hard-swish as TensorFlow writes it: Mul(Mul(x, 1/6), Clip(Add(x, 3), 0, 6)).
    std::vector<int> skip(static_cast<size_t>(g.node_size()), 0);
    std::unordered_map<int, std::string> hardswish;  // the final Mul -> x
    for (int i = 0; i < g.node_size(); ++i) {
        const auto& n = g.node(i);
        if (n.op_type() != "Mul" || n.input_size() != 2) continue;
        for (int order = 0; order < 2; ++order) {
            auto wa = writer.find(n.input(order)), wb = writer.find(n.input(1 - order));
            if (wa == writer.end() || wb == writer.end()) continue;
            const auto& scale = g.node(wa->second);
            const auto& clip = g.node(wb->second);
            if (scale.op_type() != "Mul" || scale.input_size() != 2 || clip.op_type() != "Clip" ||
                clip.input_size() < 1)
                continue;
            auto bounds = clip_bounds(clip);
            auto wadd = writer.find(clip.input(0));
            if (!bounds || bounds->first != 0.0F || bounds->second != 6.0F || wadd == writer.end()) continue;
            const auto& add = g.node(wadd->second);
            if (add.op_type() != "Add" || add.input_size() != 2) continue;
            std::string x;
            for (int k = 0; k < 2; ++k)
                if (scalar(scale.input(1 - k), 1.0F / 6.0F)) x = scale.input(k);
            if (x.empty()) continue;
            const bool add_ok =
                (add.input(0) == x && scalar(add.input(1), 3.0F)) || (add.input(1) == x && scalar(add.input(0), 3.0F));
            if (!add_ok || sole_reader(scale.output(0)) != i || sole_reader(clip.output(0)) != i ||
                sole_reader(add.output(0)) != wb->second)
                continue;
            hardswish[i] = x;
            skip[static_cast<size_t>(wa->second)] = skip[static_cast<size_t>(wb->second)] = 1;
            skip[static_cast<size_t>(wadd->second)] = 1;
            break;
        }
    }

    for (int i = 0; i < g.node_size(); ++i) {
        if (skip[static_cast<size_t>(i)] != 0) continue;
        const auto& n = g.node(i);
        const NodeError err{n};
        const std::string& type = n.op_type();
        if (n.output_size() < 1) return err("no output");
        const int at = static_cast<int>(ops.size());
        auto use = [&](int v) { values[static_cast<size_t>(v)].last_use = at; };

        if (auto hs = hardswish.find(i); hs != hardswish.end()) {
            auto it = value_of.find(hs->second);
            if (it == value_of.end()) return err("input " + hs->second + " is not computed before it");
            Op op{Kind::kHardSwish};
            op.in[0] = it->second;
            const size_t c = values[static_cast<size_t>(it->second)].shape[3];
            if (xnn_status s = xnn_create_hardswish_nc_f32(c, c, c, 0, &op.op); s != xnn_status_success)
                return XnnError(s, "the hard-swish " + n.name());
            op.out = NewValue(n.output(0), values[static_cast<size_t>(it->second)].shape);
            use(op.in[0]);
            ops.push_back(op);
        } else if (type == "Identity") {
            CB_TRY_ASSIGN(const int x, Runtime(n, 0));
            value_of[n.output(0)] = x;
        } else if (type == "Conv") {
            CB_TRY_ASSIGN(const int x, Runtime(n, 0));
            const auto* wt = n.input_size() > 1 ? Constant(n.input(1)) : nullptr;
            if (wt == nullptr || wt->dims_size() != 4) return err("the weights are not a 4-D constant");
            auto w = ConstantValues(*wt);
            if (!w) return err("the weights are not float");
            const std::array<size_t, 4> in = values[static_cast<size_t>(x)].shape;
            const auto oc = static_cast<size_t>(wt->dims(0)), ig = static_cast<size_t>(wt->dims(1));
            const auto kh = static_cast<size_t>(wt->dims(2)), kw = static_cast<size_t>(wt->dims(3));
            const int64_t group = IntAttr(n, "group", 1);
            if (group < 1 || group > static_cast<int64_t>(in[3])) return err("group is out of range");
            const auto groups = static_cast<size_t>(group);
            if (ig * groups != in[3] || oc % groups != 0)
                return err("weights of " + std::to_string(oc) + "x" + std::to_string(ig) + " do not fit " +
                           std::to_string(in[3]) + " input channels in " + std::to_string(groups) + " groups");
            const auto strides = IntsAttr(n, "strides", {1, 1});
            const auto dil = IntsAttr(n, "dilations", {1, 1});
            auto pads = IntsAttr(n, "pads", {0, 0, 0, 0});
            if (strides.size() != 2 || dil.size() != 2 || pads.size() != 4) return err("not a 2-D convolution");
            if (!InRange(strides, 1) || !InRange(dil, 1) || !InRange(pads, 0))
                return err("strides, dilations or pads out of range");
            const std::string auto_pad = StringAttr(n, "auto_pad", "NOTSET");
            if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
                for (int d = 0; d < 2; ++d) {
                    const auto len = static_cast<int64_t>(in[1 + static_cast<size_t>(d)]);
                    const int64_t out = (len + strides[static_cast<size_t>(d)] - 1) / strides[static_cast<size_t>(d)];
                    const int64_t k = d == 0 ? static_cast<int64_t>(kh) : static_cast<int64_t>(kw);
                    const int64_t total = std::max<int64_t>(
                        (out - 1) * strides[static_cast<size_t>(d)] + (k - 1) * dil[static_cast<size_t>(d)] + 1 - len,
                        0);
                    const int64_t small = total / 2;
                    pads[static_cast<size_t>(d)] = auto_pad == "SAME_UPPER" ? small : total - small;
                    pads[static_cast<size_t>(d) + 2] = total - pads[static_cast<size_t>(d)];
                }
            } else if (auto_pad != "NOTSET" && auto_pad != "VALID") {
                return err("auto_pad " + auto_pad + " is not supported");
            }
            std::vector<float> bias(oc, 0.0F);
            if (n.input_size() > 2 && !n.input(2).empty()) {
                const auto* bt = Constant(n.input(2));
                auto b = bt != nullptr ? ConstantValues(*bt) : std::nullopt;
                if (!b || b->size() != oc) return err("the bias is not a constant of one value per output channel");
                bias = *b;
            }
            // ONNX's [O, I/g, KH, KW] to XNNPACK's [O, KH, KW, I/g].
            std::vector<float> kernel(w->size());
            for (size_t o = 0; o < oc; ++o)
                for (size_t c = 0; c < ig; ++c)
                    for (size_t y = 0; y < kh; ++y)
                        for (size_t xx = 0; xx < kw; ++xx)
                            kernel[((o * kh + y) * kw + xx) * ig + c] = (*w)[((o * ig + c) * kh + y) * kw + xx];
            // A lone Relu or Clip after the convolution is applied by it.
            float lo = -kInf, hi = kInf;
            std::string out_name = n.output(0);
            if (const int r = sole_reader(out_name);
                r >= 0 && skip[static_cast<size_t>(r)] == 0 && g.node(r).input(0) == out_name) {
                if (auto b = clip_bounds(g.node(r)); b) {
                    std::tie(lo, hi) = *b;
                    skip[static_cast<size_t>(r)] = 1;
                    out_name = g.node(r).output(0);
                }
            }
            const auto dim = [&](size_t len, size_t k, int d) -> int64_t {
                const int64_t eff = (static_cast<int64_t>(k) - 1) * dil[static_cast<size_t>(d)] + 1;
                return (static_cast<int64_t>(len) + pads[static_cast<size_t>(d)] + pads[static_cast<size_t>(d) + 2] -
                        eff) /
                           strides[static_cast<size_t>(d)] +
                       1;
            };
            const int64_t oh = dim(in[1], kh, 0), ow = dim(in[2], kw, 1);
            if (oh < 1 || ow < 1) return err("the output would be empty for this input size");
            Op op{Kind::kConv};
            op.in[0] = x;
            op.shape_a = in;
            const xnn_status s = xnn_create_convolution2d_nhwc_f32(static_cast<uint32_t>(pads[0]),
                                                                   static_cast<uint32_t>(pads[3]),
                                                                   static_cast<uint32_t>(pads[2]),
                                                                   static_cast<uint32_t>(pads[1]),
                                                                   static_cast<uint32_t>(kh),
                                                                   static_cast<uint32_t>(kw),
                                                                   static_cast<uint32_t>(strides[0]),
                                                                   static_cast<uint32_t>(strides[1]),
                                                                   static_cast<uint32_t>(dil[0]),
                                                                   static_cast<uint32_t>(dil[1]),
                                                                   static_cast<uint32_t>(groups),
                                                                   ig,
                                                                   oc / groups,
                                                                   in[3],
                                                                   oc,
                                                                   kernel.data(),
                                                                   bias.data(),
                                                                   lo,
                                                                   hi,
                                                                   0,
                                                                   &op.op);
            if (s != xnn_status_success) return XnnError(s, "the convolution " + n.name());
            op.out = NewValue(out_name, {1, static_cast<size_t>(oh), static_cast<size_t>(ow), oc});
            use(x);
            ops.push_back(op);
        } else if (type == "Relu" || type == "Clip" || type == "Sigmoid" || type == "HardSwish") {
            CB_TRY_ASSIGN(const int x, Runtime(n, 0));
            const std::array<size_t, 4> shape = values[static_cast<size_t>(x)].shape;
            Op op{type == "Sigmoid" ? Kind::kSigmoid : type == "HardSwish" ? Kind::kHardSwish : Kind::kClamp};
            op.in[0] = x;
            xnn_status s = xnn_status_success;
            if (op.kind == Kind::kClamp) {
                auto b = clip_bounds(n);
                if (!b) return err("the bounds are not constants");
                s = xnn_create_clamp_nc_f32(shape[3], shape[3], shape[3], b->first, b->second, 0, &op.op);
            } else if (op.kind == Kind::kSigmoid) {
                s = xnn_create_sigmoid_nc_f32(shape[3], shape[3], shape[3], 0, &op.op);
            } else {
                s = xnn_create_hardswish_nc_f32(shape[3], shape[3], shape[3], 0, &op.op);
            }
            if (s != xnn_status_success) return XnnError(s, type + " " + n.name());
            op.out = NewValue(n.output(0), shape);
            use(x);
            ops.push_back(op);
        } else if (type == "Add" || type == "Sub" || type == "Mul") {
            if (n.input_size() != 2) return err("needs two inputs");
            Op op{type == "Add" ? Kind::kAdd : type == "Sub" ? Kind::kSub : Kind::kMul};
            std::array<std::array<size_t, 4>, 2> shapes{};
            for (int k = 0; k < 2; ++k) {
                if (auto it = value_of.find(n.input(k)); it != value_of.end()) {
                    op.in[static_cast<size_t>(k)] = it->second;
                    shapes[static_cast<size_t>(k)] = values[static_cast<size_t>(it->second)].shape;
                    continue;
                }
                const auto* t = Constant(n.input(k));
                if (t == nullptr) return err("input " + n.input(k) + " is neither computed nor a constant");
                if (op.constant >= 0) return err("both inputs are constants");
                auto v = ConstantValues(*t);
                if (!v || t->dims_size() > 4)
                    return err("input " + n.input(k) + " is not a float constant of rank <= 4");
                // NumPy broadcasting aligns the trailing axes of NCHW; pad the shape to four, then store it NHWC.
                std::array<size_t, 4> nchw{1, 1, 1, 1};
                const auto rank = static_cast<size_t>(t->dims_size());
                for (size_t d = 0; d < rank; ++d)
                    nchw[4 - rank + d] = static_cast<size_t>(t->dims(static_cast<int>(d)));
                const std::array<size_t, 4> nhwc{nchw[0], nchw[2], nchw[3], nchw[1]};
                std::vector<float> data(v->size() + XNN_EXTRA_BYTES / sizeof(float), 0.0F);
                for (size_t b = 0; b < nchw[0]; ++b)
                    for (size_t c = 0; c < nchw[1]; ++c)
                        for (size_t y = 0; y < nchw[2]; ++y)
                            for (size_t xx = 0; xx < nchw[3]; ++xx)
                                data[((b * nchw[2] + y) * nchw[3] + xx) * nchw[1] + c] =
                                    (*v)[((b * nchw[1] + c) * nchw[2] + y) * nchw[3] + xx];
                constants.push_back(std::move(data));
                op.constant = static_cast<int>(constants.size()) - 1;
                shapes[static_cast<size_t>(k)] = nhwc;
            }
            if (op.in[0] < 0 && op.in[1] < 0) return err("both inputs are constants");
            std::array<size_t, 4> out{};
            for (size_t d = 0; d < 4; ++d) {
                const size_t a = shapes[0][d], b = shapes[1][d];
                if (a != b && a != 1 && b != 1) return err("the inputs' shapes do not broadcast");
                out[d] = std::max(a, b);
            }
            op.shape_a = shapes[0];
            op.shape_b = shapes[1];
            xnn_status s = xnn_status_success;
            if (op.kind == Kind::kAdd) s = xnn_create_add_nd_f32(-kInf, kInf, 0, &op.op);
            if (op.kind == Kind::kSub) s = xnn_create_subtract_nd_f32(-kInf, kInf, 0, &op.op);
            if (op.kind == Kind::kMul) s = xnn_create_multiply_nd_f32(-kInf, kInf, 0, &op.op);
            if (s != xnn_status_success) return XnnError(s, type + " " + n.name());
            op.out = NewValue(n.output(0), out);
            for (const int v : op.in)
                if (v >= 0) use(v);
            ops.push_back(op);
        } else if (type == "GlobalAveragePool") {
            CB_TRY_ASSIGN(const int x, Runtime(n, 0));
            const std::array<size_t, 4> in = values[static_cast<size_t>(x)].shape;
            Op op{Kind::kGlobalAvg};
            op.in[0] = x;
            op.shape_a = in;
            const xnn_status s = xnn_create_global_average_pooling_nwc_f32(in[3], in[3], in[3], -kInf, kInf, 0, &op.op);
            if (s != xnn_status_success) return XnnError(s, type + " " + n.name());
            op.out = NewValue(n.output(0), {1, 1, 1, in[3]});
            use(x);
            ops.push_back(op);
        } else if (type == "MaxPool") {
            CB_TRY_ASSIGN(const int x, Runtime(n, 0));
            const std::array<size_t, 4> in = values[static_cast<size_t>(x)].shape;
            const auto k = IntsAttr(n, "kernel_shape", {});
            const auto strides = IntsAttr(n, "strides", {1, 1});
            const auto pads = IntsAttr(n, "pads", {0, 0, 0, 0});
            if (k.size() != 2 || strides.size() != 2 || pads.size() != 4) return err("not a 2-D pooling");
            if (!InRange(k, 1) || !InRange(strides, 1) || !InRange(pads, 0))
                return err("kernel_shape, strides or pads out of range");
            const auto dil = IntsAttr(n, "dilations", {1, 1});
            if (IntAttr(n, "ceil_mode", 0) != 0 || StringAttr(n, "auto_pad", "NOTSET") != "NOTSET" ||
                n.output_size() > 1 || dil != std::vector<int64_t>{1, 1})
                return err("ceil_mode, auto_pad, dilations and indices are not supported");
            const int64_t oh = (static_cast<int64_t>(in[1]) + pads[0] + pads[2] - k[0]) / strides[0] + 1;
            const int64_t ow = (static_cast<int64_t>(in[2]) + pads[1] + pads[3] - k[1]) / strides[1] + 1;
            if (oh < 1 || ow < 1) return err("the output would be empty for this input size");
            Op op{Kind::kMaxPool};
            op.in[0] = x;
            op.shape_a = in;
            const xnn_status s = xnn_create_max_pooling2d_nhwc_f32(static_cast<uint32_t>(pads[0]),
                                                                   static_cast<uint32_t>(pads[3]),
                                                                   static_cast<uint32_t>(pads[2]),
                                                                   static_cast<uint32_t>(pads[1]),
                                                                   static_cast<uint32_t>(k[0]),
                                                                   static_cast<uint32_t>(k[1]),
                                                                   static_cast<uint32_t>(strides[0]),
                                                                   static_cast<uint32_t>(strides[1]),
                                                                   1,
                                                                   1,
                                                                   in[3],
                                                                   in[3],
                                                                   in[3],
                                                                   -kInf,
                                                                   kInf,
                                                                   0,
                                                                   &op.op);
            if (s != xnn_status_success) return XnnError(s, type + " " + n.name());
            op.out = NewValue(n.output(0), {1, static_cast<size_t>(oh), static_cast<size_t>(ow), in[3]});
            use(x);
            ops.push_back(op);
        } else if (type == "Concat") {
            const int64_t axis = IntAttr(n, "axis", 1);
            if (axis != 1 && axis != -3) return err("only a concatenation of channels (axis 1) is supported");
            std::vector<int> parts;
            size_t channels = 0;
            for (int k = 0; k < n.input_size(); ++k) {
                CB_TRY_ASSIGN(const int v, Runtime(n, k));
                const auto& s = values[static_cast<size_t>(v)].shape;
                const auto& first = values[static_cast<size_t>(parts.empty() ? v : parts[0])].shape;
                if (s[1] != first[1] || s[2] != first[2]) return err("the inputs differ in height or width");
                parts.push_back(v);
                channels += s[3];
            }
            if (parts.empty()) return err("no inputs");
            const auto& first = values[static_cast<size_t>(parts[0])].shape;
            const int out = NewValue(n.output(0), {1, first[1], first[2], channels});
            size_t offset = 0;
            for (const int v : parts) {
                const size_t c = values[static_cast<size_t>(v)].shape[3];
                Op op{Kind::kCopy};
                op.in[0] = v;
                op.out = out;
                op.channel_offset = offset;
                op.shape_a = values[static_cast<size_t>(v)].shape;
                const xnn_status s = xnn_create_copy_nc_x32(c, c, channels, 0, &op.op);
                if (s != xnn_status_success) return XnnError(s, type + " " + n.name());
                values[static_cast<size_t>(v)].last_use = static_cast<int>(ops.size());
                ops.push_back(op);
                offset += c;
            }
        } else if (type == "Resize" || type == "Upsample") {
            CB_TRY_ASSIGN(const int x, Runtime(n, 0));
            const std::array<size_t, 4> in = values[static_cast<size_t>(x)].shape;
            const std::string mode = StringAttr(n, "mode", "nearest");
            if (mode != "linear" && mode != "bilinear") return err("mode " + mode + " is not supported");
            uint32_t flags = XNN_FLAG_TENSORFLOW_LEGACY_MODE;  // opset 10 and Upsample: asymmetric
            if (type == "Resize" && opset >= 11) {
                const std::string ct = StringAttr(n, "coordinate_transformation_mode", "half_pixel");
                if (ct == "half_pixel")
                    flags = 0;
                else if (ct == "align_corners")
                    flags = XNN_FLAG_ALIGN_CORNERS;
                else if (ct != "asymmetric")
                    return err("coordinate_transformation_mode " + ct + " is not supported");
            }
            size_t oh = 0, ow = 0;
            const int scales_at = type == "Resize" && opset >= 11 ? 2 : 1;
            if (n.input_size() > scales_at && !n.input(scales_at).empty()) {
                const auto* t = Constant(n.input(scales_at));
                auto s = t != nullptr ? ConstantValues(*t) : std::nullopt;
                if (s && s->size() == 4) {
                    oh = Scaled(in[1], (*s)[2]);
                    ow = Scaled(in[2], (*s)[3]);
                }
            } else if (type == "Upsample" && Attr(n, "scales") != nullptr && Attr(n, "scales")->floats_size() == 4) {
                oh = Scaled(in[1], Attr(n, "scales")->floats(2));
                ow = Scaled(in[2], Attr(n, "scales")->floats(3));
            }
            if (oh == 0 && type == "Resize" && n.input_size() > 3) {
                const auto* t = Constant(n.input(3));
                auto s = t != nullptr ? ConstantValues(*t) : std::nullopt;
                if (s && s->size() == 4) {
                    oh = Scaled(1, (*s)[2]);
                    ow = Scaled(1, (*s)[3]);
                }
            }
            if (oh == 0 || ow == 0) return err("the scales or sizes are not constants of four values");
            Op op{Kind::kResize};
            op.in[0] = x;
            op.shape_a = in;
            op.out_h = oh;
            op.out_w = ow;
            const xnn_status s = xnn_create_resize_bilinear2d_nhwc_f32(in[3], in[3], in[3], flags, &op.op);
            if (s != xnn_status_success) return XnnError(s, type + " " + n.name());
            op.out = NewValue(n.output(0), {1, oh, ow, in[3]});
            use(x);
            ops.push_back(op);
        } else {
            return err("op " + type + " is not supported by the XNNPACK runtime");
        }
        for (size_t k = static_cast<size_t>(at); k < ops.size(); ++k) {
            if (ops[k].out < 0) return err("the output would have more than 2^28 values");
            Value& v = values[static_cast<size_t>(ops[k].out)];
            v.first_def = std::min(v.first_def, static_cast<int>(k));
        }
    }
    for (const std::string& name : outputs) {
        auto it = value_of.find(name);
        if (it == value_of.end()) return InvalidArgument("", "output " + name + ": not computed by the graph");
        values[static_cast<size_t>(it->second)].last_use = INT_MAX;
    }
    return {};
}

Status XnnNet::Impl::Plan() {
    // Each value takes a slot free since before its first write (a slot is free once its last reader has run);
    // the smallest that fits, else one that grows, else a new one.
    std::vector<size_t> order(values.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(
        order.begin(), order.end(), [&](size_t a, size_t b) { return values[a].first_def < values[b].first_def; });
    std::vector<size_t> capacity;
    std::vector<int> busy_until;
    for (const size_t i : order) {
        Value& v = values[i];
        if (v.first_def == INT_MAX) continue;  // an alias or never written
        int best = -1;
        for (size_t s = 0; s < capacity.size(); ++s) {
            if (busy_until[s] >= v.first_def) continue;
            const bool fits = capacity[s] >= v.size();
            if (best < 0) {
                best = static_cast<int>(s);
                continue;
            }
            const bool best_fits = capacity[static_cast<size_t>(best)] >= v.size();
            if ((fits && (!best_fits || capacity[s] < capacity[static_cast<size_t>(best)])) ||
                (!fits && !best_fits && capacity[s] > capacity[static_cast<size_t>(best)]))
                best = static_cast<int>(s);
        }
        if (best < 0) {
            capacity.push_back(0);
            busy_until.push_back(0);
            best = static_cast<int>(capacity.size()) - 1;
        }
        capacity[static_cast<size_t>(best)] = std::max(capacity[static_cast<size_t>(best)], v.size());
        busy_until[static_cast<size_t>(best)] = std::max(v.last_use, v.first_def);
        v.slot = best;
    }
    size_t total = 0;
    for (const size_t c : capacity) total += c;
    if (total > kMaxArena)
        return InvalidArgument("", "the model needs more than 4 GiB of activations at this input size");
    slots.resize(capacity.size());
    for (size_t s = 0; s < capacity.size(); ++s) slots[s].assign(capacity[s] + XNN_EXTRA_BYTES / sizeof(float), 0.0F);
    for (Value& v : values)
        if (v.slot >= 0) v.data = slots[static_cast<size_t>(v.slot)].data();
    return {};
}

Status XnnNet::Impl::Setup() {
    for (Op& op : ops) {
        const float* a = op.in[0] >= 0 ? values[static_cast<size_t>(op.in[0])].data : nullptr;
        const float* b = op.in[1] >= 0 ? values[static_cast<size_t>(op.in[1])].data : nullptr;
        if (op.constant >= 0) (a == nullptr ? a : b) = constants[static_cast<size_t>(op.constant)].data();
        Value& out = values[static_cast<size_t>(op.out)];
        const size_t pixels = op.shape_a[1] * op.shape_a[2];
        xnn_status s = xnn_status_success;
        switch (op.kind) {
            case Kind::kConv:
                s = xnn_setup_convolution2d_nhwc_f32(op.op, 1, op.shape_a[1], op.shape_a[2], a, out.data, pool);
                break;
            case Kind::kClamp:
                s = xnn_setup_clamp_nc_f32(op.op, out.size() / out.shape[3], a, out.data, pool);
                break;
            case Kind::kSigmoid:
                s = xnn_setup_sigmoid_nc_f32(op.op, out.size() / out.shape[3], a, out.data, pool);
                break;
            case Kind::kHardSwish:
                s = xnn_setup_hardswish_nc_f32(op.op, out.size() / out.shape[3], a, out.data, pool);
                break;
            case Kind::kAdd:
                s = xnn_setup_add_nd_f32(op.op, 4, op.shape_a.data(), 4, op.shape_b.data(), a, b, out.data, pool);
                break;
            case Kind::kSub:
                s = xnn_setup_subtract_nd_f32(op.op, 4, op.shape_a.data(), 4, op.shape_b.data(), a, b, out.data, pool);
                break;
            case Kind::kMul:
                s = xnn_setup_multiply_nd_f32(op.op, 4, op.shape_a.data(), 4, op.shape_b.data(), a, b, out.data, pool);
                break;
            case Kind::kGlobalAvg:
                s = xnn_setup_global_average_pooling_nwc_f32(op.op, 1, pixels, a, out.data, pool);
                break;
            case Kind::kMaxPool:
                s = xnn_setup_max_pooling2d_nhwc_f32(op.op, 1, op.shape_a[1], op.shape_a[2], a, out.data, pool);
                break;
            case Kind::kCopy:
                s = xnn_setup_copy_nc_x32(op.op, pixels, a, out.data + op.channel_offset, pool);
                break;
            case Kind::kResize:
                s = xnn_setup_resize_bilinear2d_nhwc_f32(
                    op.op, 1, op.shape_a[1], op.shape_a[2], op.out_h, op.out_w, a, out.data, pool);
                break;
        }
        if (s != xnn_status_success) return XnnError(s, "an operator's buffers");
    }
    return {};
}

}  // namespace citybrain::vision
