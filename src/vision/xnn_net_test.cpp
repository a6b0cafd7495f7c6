// SPDX-License-Identifier: Apache-2.0
// The XNNPACK runtime against OpenCV's DNN module, the reference: on the shipped detector and on a small model with
// every op the runtime covers, written here with the ONNX project's own classes.
#include "vision/xnn_net.hpp"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <random>

#include "vision/detector.hpp"

namespace citybrain::vision {
namespace {

const std::string kModel = std::string(CB_SOURCE_DIR) + "/build/models/centernet.onnx";
const std::string kPhotos = "/usr/share/darknet/data/";

/// A model written node by node (opset 10, the one OpenCV 4.6 reads), with seeded random weights.
class ModelWriter {
public:
    ModelWriter() {
        model_.set_ir_version(6);
        model_.set_producer_name("citybrain-test");
        model_.add_opset_import()->set_version(10);
    }
    void Input(const std::string& name, std::vector<int64_t> dims) {
        auto* tt = graph()->add_input()->mutable_type()->mutable_tensor_type();
        graph()->mutable_input(graph()->input_size() - 1)->set_name(name);
        tt->set_elem_type(onnx::TensorProto::FLOAT);
        for (const int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
    }
    void Output(const std::string& name, std::vector<int64_t> dims) {
        auto* o = graph()->add_output();
        o->set_name(name);
        auto* tt = o->mutable_type()->mutable_tensor_type();
        tt->set_elem_type(onnx::TensorProto::FLOAT);
        for (const int64_t d : dims) tt->mutable_shape()->add_dim()->set_dim_value(d);
    }
    std::string Const(const std::string& name, std::vector<int64_t> dims, std::vector<float> values = {}) {
        auto* t = graph()->add_initializer();
        t->set_name(name);
        t->set_data_type(onnx::TensorProto::FLOAT);
        size_t n = 1;
        for (const int64_t d : dims) {
            t->add_dims(d);
            n *= static_cast<size_t>(d);
        }
        std::uniform_real_distribution<float> u(-0.5F, 0.5F);
        if (values.empty())
            for (size_t i = 0; i < n; ++i) values.push_back(u(rng_));
        for (const float v : values) t->add_float_data(v);
        return name;
    }
    onnx::NodeProto* Node(const std::string& op, std::vector<std::string> in, const std::string& out) {
        auto* n = graph()->add_node();
        if (op == "Conv") {  // OpenCV wants the kernel's shape said, though the weights have it
            for (const auto& t : graph()->initializer())
                if (t.name() == in.at(1)) Ints(n, "kernel_shape", {t.dims(2), t.dims(3)});
        }
        n->set_op_type(op);
        n->set_name(out);
        for (const auto& x : in) n->add_input(x);
        n->add_output(out);
        return n;
    }
    static void Ints(onnx::NodeProto* n, const std::string& name, std::vector<int64_t> v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INTS);
        for (const int64_t x : v) a->add_ints(x);
    }
    static void Int(onnx::NodeProto* n, const std::string& name, int64_t v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::INT);
        a->set_i(v);
    }
    static void Float(onnx::NodeProto* n, const std::string& name, float v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::FLOAT);
        a->set_f(v);
    }
    static void String(onnx::NodeProto* n, const std::string& name, const std::string& v) {
        auto* a = n->add_attribute();
        a->set_name(name);
        a->set_type(onnx::AttributeProto::STRING);
        a->set_s(v);
    }
    std::string Save(const std::string& stem) const {
        const std::string path =
            (std::filesystem::temp_directory_path() / ("cb_xnn_" + stem + "_" + std::to_string(::getpid()) + ".onnx"))
                .string();
        std::ofstream out(path, std::ios::binary);
        model_.SerializeToOstream(&out);
        return path;
    }

private:
    onnx::GraphProto* graph() { return model_.mutable_graph(); }
    onnx::ModelProto model_;
    std::mt19937 rng_{7};
};

/// Every op of the runtime once, with the patterns it fuses: 14 operators run where the graph has 19 nodes.
ModelWriter EveryOp() {
    ModelWriter w;
    using M = ModelWriter;
    w.Input("images", {1, 3, 32, 32});
    auto* c1 = w.Node("Conv", {"images", w.Const("w1", {8, 3, 3, 3}), w.Const("b1", {8})}, "c1");
    M::Ints(c1, "pads", {1, 1, 1, 1});
    w.Node("Relu", {"c1"}, "r1");  // fused into c1
    auto* d1 = w.Node("Conv", {"r1", w.Const("wd", {8, 1, 3, 3}), w.Const("bd", {8})}, "d1");
    M::Int(d1, "group", 8);
    M::Ints(d1, "strides", {2, 2});
    M::Ints(d1, "pads", {0, 0, 1, 1});
    auto* k1 = w.Node("Clip", {"d1"}, "k1");  // fused into d1
    M::Float(k1, "min", 0);
    M::Float(k1, "max", 6);
    // hard-swish as TensorFlow writes it: one operator
    w.Node("Mul", {w.Const("sixth", {1}, {1.0F / 6.0F}), "k1"}, "hs_a");
    w.Node("Add", {"k1", w.Const("three", {1}, {3.0F})}, "hs_b");
    auto* hc = w.Node("Clip", {"hs_b"}, "hs_c");
    M::Float(hc, "min", 0);
    M::Float(hc, "max", 6);
    w.Node("Mul", {"hs_a", "hs_c"}, "hs");
    // squeeze-and-excite: a broadcast product of two computed tensors
    w.Node("GlobalAveragePool", {"hs"}, "gap");
    w.Node("Conv", {"gap", w.Const("wse", {8, 8, 1, 1})}, "se");
    w.Node("Sigmoid", {"se"}, "gate");
    w.Node("Mul", {"hs", "gate"}, "excited");
    w.Node("Add", {"excited", w.Const("per_channel", {1, 8, 1, 1})}, "shifted");
    w.Node("Sub", {"shifted", "hs"}, "diff");
    auto* up = w.Node("Resize", {"diff", w.Const("scales", {4}, {1, 1, 2, 2})}, "up");
    M::String(up, "mode", "bilinear");  // as the TensorFlow.js converter writes it; OpenCV reads no "linear"
    auto* cat = w.Node("Concat", {"up", "r1"}, "cat");
    M::Int(cat, "axis", 1);
    auto* mp = w.Node("MaxPool", {"cat"}, "pooled");
    M::Ints(mp, "kernel_shape", {3, 3});
    M::Ints(mp, "pads", {1, 1, 1, 1});
    w.Node("Conv", {"pooled", w.Const("wo", {4, 16, 1, 1}), w.Const("bo", {4})}, "out");
    w.Output("out", {1, 4, 32, 32});
    w.Output("gate", {1, 8, 1, 1});
    return w;
}

TEST(XnnNet, EveryOpMatchesOpenCvsDnnModule) {
    const std::string path = EveryOp().Save("every_op");
    auto net = XnnNet::Load(path, 32, 32, 1);
    ASSERT_TRUE(net.ok()) << net.error().ToString();
    EXPECT_EQ((*net)->operator_count(), 14U);  // the Relu, the Clip and the hard-swish's parts are fused
    cv::Mat image(32, 32, CV_32FC3);
    cv::randu(image, cv::Scalar::all(0), cv::Scalar::all(255));
    std::copy(image.ptr<float>(), image.ptr<float>() + 32 * 32 * 3, (*net)->input());
    ASSERT_TRUE((*net)->Run().ok());

    cv::dnn::Net ref = cv::dnn::readNetFromONNX(path);
    ref.setInput(cv::dnn::blobFromImage(image), "images");  // NHWC to NCHW, values unchanged
    std::vector<cv::Mat> expect;
    ref.forward(expect, std::vector<std::string>{"out", "gate"});
    for (size_t k = 0; k < 2; ++k) {
        const NhwcView got = (*net)->output(k == 0 ? "out" : "gate");
        const cv::Mat& e = expect[k];
        ASSERT_EQ(got.c, e.size[1]);
        ASSERT_EQ(got.h, e.size[2]);
        ASSERT_EQ(got.w, e.size[3]);
        double worst = 0, largest = 0;
        for (int c = 0; c < got.c; ++c)
            for (int y = 0; y < got.h; ++y)
                for (int x = 0; x < got.w; ++x) {
                    const float want = e.ptr<float>()[(static_cast<size_t>(c) * got.h + y) * got.w + x];
                    const float have = got.data[(static_cast<size_t>(y) * got.w + x) * got.c + c];
                    worst = std::max(worst, static_cast<double>(std::fabs(want - have)));
                    largest = std::max(largest, static_cast<double>(std::fabs(want)));
                }
        EXPECT_GT(largest, 0.1) << "output " << k;
        EXPECT_LT(worst, 1e-4 * std::max(1.0, largest)) << "output " << k;
    }
    std::filesystem::remove(path);
}

/// A 64-px CenterNet's two outputs from `from`: the 80 classes' heat map and the four sides, at stride 4.
void CenterNetHeads(ModelWriter& w, const std::string& from, int64_t channels) {
    auto* heat = w.Node("Conv", {from, w.Const("wk", {80, channels, 4, 4})}, "logits");
    ModelWriter::Ints(heat, "strides", {4, 4});
    w.Node("Sigmoid", {"logits"}, "keypoints");
    auto* wh = w.Node("Conv", {from, w.Const("ww", {4, channels, 4, 4})}, "wh");
    ModelWriter::Ints(wh, "strides", {4, 4});
    w.Output("keypoints", {1, 80, 16, 16});
    w.Output("wh", {1, 4, 16, 16});
}

TEST(XnnNet, AnOpItDoesNotCoverIsNamedAndTheDetectorFallsBackToOpenCv) {
    ModelWriter w;
    w.Input("images", {1, 3, 64, 64});
    auto* lrn = w.Node("LRN", {"images"}, "normalised");
    ModelWriter::Int(lrn, "size", 3);
    CenterNetHeads(w, "normalised", 3);
    const std::string path = w.Save("lrn");
    auto net = XnnNet::Load(path, 64, 64, 1);
    ASSERT_FALSE(net.ok());
    EXPECT_EQ(net.error().message, "node normalised (LRN): op LRN is not supported by the XNNPACK runtime");
    EXPECT_EQ(net.error().where, path);

    DetectorOptions o;
    o.model = path;
    o.input_size = 64;
    o.runtime = "xnnpack";
    EXPECT_FALSE(Detector::Open(o).ok());
    o.runtime = "auto";
    auto d = Detector::Open(o);
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    EXPECT_EQ(d->runtime(), "opencv");
    EXPECT_EQ(d->fallback_reason(), net.error().message);
    auto dets = d->Detect(cv::Mat(48, 64, CV_8UC3, cv::Scalar(40, 90, 160)));
    EXPECT_TRUE(dets.ok()) << dets.error().ToString();
    o.runtime = "tpu";
    auto bad = Detector::Open(o);
    ASSERT_FALSE(bad.ok());
    EXPECT_EQ(bad.error().where, "runtime");
    std::filesystem::remove(path);
}

TEST(XnnNet, HostileShapesAreRefusedByNode) {
    ModelWriter w;
    w.Input("images", {1, 3, 32, 32});
    auto* up = w.Node("Resize", {"images", w.Const("scales", {4}, {1, 1, 1e9F, 1e9F})}, "huge");
    ModelWriter::String(up, "mode", "linear");
    w.Output("huge", {1, 3, 32, 32});
    const std::string path = w.Save("huge");
    auto net = XnnNet::Load(path, 32, 32, 1);
    ASSERT_FALSE(net.ok());
    EXPECT_NE(net.error().message.find("node huge (Resize)"), std::string::npos) << net.error().message;

    ModelWriter s;
    s.Input("images", {1, 3, 32, 32});
    auto* c = s.Node("Conv", {"images", s.Const("w", {4, 3, 3, 3})}, "c");
    ModelWriter::Ints(c, "strides", {0, 1});
    s.Output("c", {1, 4, 30, 30});
    const std::string stride_path = s.Save("stride");
    auto strided = XnnNet::Load(stride_path, 32, 32, 1);
    ASSERT_FALSE(strided.ok());
    EXPECT_EQ(strided.error().message, "node c (Conv): strides, dilations or pads out of range");

    std::ofstream(path, std::ios::binary | std::ios::trunc) << "not a protobuf at all \x01\x02";
    auto garbage = XnnNet::Load(path, 32, 32, 1);
    EXPECT_FALSE(garbage.ok());
    std::filesystem::remove(path);
    std::filesystem::remove(stride_path);
}

TEST(Detector, AGreyFrameAndAOneChannelModelAreRefused) {
    DetectorOptions o;
    o.model = kModel;
    auto d = Detector::Open(o);
    ASSERT_TRUE(d.ok()) << d.error().ToString();
    auto grey = d->Detect(cv::Mat(48, 64, CV_8UC1, cv::Scalar(90)));
    ASSERT_FALSE(grey.ok());
    EXPECT_EQ(grey.error().where, "frame");

    ModelWriter w;
    w.Input("images", {1, 1, 64, 64});
    CenterNetHeads(w, "images", 1);
    o.model = w.Save("grey");
    o.input_size = 64;
    auto one = Detector::Open(o);
    ASSERT_FALSE(one.ok());
    EXPECT_EQ(one.error().message, "the model's input has 1 channels; the detector feeds it RGB (3)");
    std::filesystem::remove(o.model);
}

TEST(Detector, XnnpackGivesOpenCvsBoxesOnTheTestPhotos) {
    DetectorOptions o;
    o.model = kModel;
    o.runtime = "xnnpack";
    auto fast = Detector::Open(o);
    ASSERT_TRUE(fast.ok()) << fast.error().ToString();
    EXPECT_EQ(fast->runtime(), "xnnpack");
    o.runtime = "opencv";
    auto ref = Detector::Open(o);
    ASSERT_TRUE(ref.ok()) << ref.error().ToString();
    o.runtime = "auto";
    auto chosen = Detector::Open(o);
    ASSERT_TRUE(chosen.ok());
    EXPECT_EQ(chosen->runtime(), "xnnpack");
    EXPECT_EQ(chosen->fallback_reason(), "");
    for (const char* photo : {"dog.jpg", "person.jpg", "horses.jpg", "kite.jpg"}) {
        auto image = ReadImage(kPhotos + photo);
        ASSERT_TRUE(image.ok()) << image.error().ToString();
        auto a = fast->Detect(*image);
        auto b = ref->Detect(*image);
        ASSERT_TRUE(a.ok() && b.ok());
        ASSERT_EQ(a->size(), b->size()) << photo;
        ASSERT_FALSE(a->empty()) << photo;
        for (size_t i = 0; i < a->size(); ++i) {
            EXPECT_EQ((*a)[i].label, (*b)[i].label) << photo << " #" << i;
            EXPECT_NEAR((*a)[i].score, (*b)[i].score, 1e-3) << photo << " #" << i;
            EXPECT_GE(Iou((*a)[i].box, (*b)[i].box), 0.99F) << photo << " #" << i;
        }
    }
}

}  // namespace
}  // namespace citybrain::vision
