// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <memory>
#include <utility>

#include "incident/store.hpp"

namespace citybrain::incident {

/// A Store that passes every call to another: the base for wrappers that change one behaviour (tests inject
/// failing commits or reads this way) without restating the rest of the interface.
class ForwardingStore : public Store {
public:
    explicit ForwardingStore(std::unique_ptr<Store> inner) : inner_(std::move(inner)) {}
    const char* Kind() const override { return inner_->Kind(); }
    Status Commit(const WriteBatch& batch) override { return inner_->Commit(batch); }
    Result<int64_t> ClaimWriter(const std::string& holder, TimeMs now) override {
        return inner_->ClaimWriter(holder, now);
    }
    Result<Counters> MaxIds() override { return inner_->MaxIds(); }
    Result<std::vector<Case>> LoadOpenCases() override { return inner_->LoadOpenCases(); }
    Result<std::vector<KeyEntry>> LoadIdempotencyKeys(TimeMs window_ms) override {
        return inner_->LoadIdempotencyKeys(window_ms);
    }
    Result<std::optional<Case>> GetCase(CaseId id) override { return inner_->GetCase(id); }
    Result<std::vector<Case>> ListCases(const CaseFilter& filter, TimeMs now) override {
        return inner_->ListCases(filter, now);
    }
    Result<std::vector<Event>> CaseEvents(CaseId id) override { return inner_->CaseEvents(id); }
    Result<std::vector<Report>> CaseReports(CaseId id) override { return inner_->CaseReports(id); }
    Result<std::vector<RequestView>> ListRequests(const RequestFilter& filter) override {
        return inner_->ListRequests(filter);
    }
    Result<Stats> ComputeStats(TimeMs now) override { return inner_->ComputeStats(now); }

private:
    std::unique_ptr<Store> inner_;
};

}  // namespace citybrain::incident
