// SPDX-License-Identifier: Apache-2.0
#include "district/default_district.hpp"

namespace citybrain::district {

Result<District> MakeDistrict(const DistrictSpec& spec, uint64_t seed) {
    District d;
    CB_TRY_ASSIGN(d.net, core::GenerateGrid(spec.grid));
    traffic::DemandSpec demand = spec.demand;
    demand.seed = seed;
    CB_TRY_ASSIGN(d.demand, traffic::GenerateDemand(d.net, demand));
    return d;
}

}  // namespace citybrain::district
