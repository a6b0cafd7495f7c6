// SPDX-License-Identifier: Apache-2.0
#include "nlp/message_model.hpp"

#include "nlp/tfidf_svm.hpp"

namespace citybrain::nlp {

Result<MessageModel> MessageModel::Load(const std::string& path) {
    MessageModel m;
    m.path_ = path;
    if (TfidfSvm::IsModelFile(path)) {
        CB_TRY_ASSIGN(TfidfSvm model, TfidfSvm::Load(path));
        auto shared = std::make_shared<const TfidfSvm>(std::move(model));
        m.kind_ = "tfidf";
        m.labels_ = shared->labels();
        m.predict_ = [shared](const std::string& t, const std::string& d, int k) { return shared->Predict(t, d, k); };
    } else {
        CB_TRY_ASSIGN(TextClassifier model, TextClassifier::Load(path));
        auto shared = std::make_shared<const TextClassifier>(std::move(model));
        m.kind_ = "fasttext";
        m.labels_ = shared->labels();
        m.predict_ = [shared](const std::string& t, const std::string& d, int k) { return shared->Predict(t, d, k); };
    }
    CB_TRY_ASSIGN(Normalizer normalizer, Normalizer::Create());
    m.normalizer_ = std::make_shared<const Normalizer>(std::move(normalizer));
    return m;
}

std::vector<Prediction> MessageModel::Predict(const std::string& title, const std::string& detail, int k) const {
    return predict_(title, detail, k);
}

std::vector<Prediction> MessageModel::PredictRaw(std::string_view text, int k) const {
    auto normal = normalizer_->Normalize(text);
    if (!normal.ok()) return {};
    return predict_(*normal, "", k);
}

}  // namespace citybrain::nlp
