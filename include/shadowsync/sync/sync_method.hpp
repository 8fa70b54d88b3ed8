// SyncMethod: how the groups' dense replicas are kept together, as two independent choices:
//  - the rule (SyncRuleKind, sync_rule.hpp): model averaging (MA), elastic averaging against a
//    center copy (EASGD), or block momentum (BMUF);
//  - the schedule (SyncScheduleKind): when the rule runs. Shadow: background threads run rounds
//    while workers train (the paper's ShadowSync; shadow_schedule.hpp). Foreground: every k
//    iterations the workers meet at a barrier and one of them runs a round (the paper's
//    baselines; barrier_schedule.hpp). Independent: replicas never sync during training and are
//    averaged once at the end (no rule). SharedReplica: one replica shared by every worker of
//    every group (Hogwild across groups; no rule).
// Every method has a name, the one the command line, checkpoints and --metrics lines use:
// s-pa (the default: shadow progress-preserving averaging, docs/sync.md), s-ma, s-easgd, s-bmuf,
// fr-pa, fr-ma, fr-easgd, fr-bmuf, none, hogwild. The paper's methods keep their names.
#pragma once

#include <string>
#include <string_view>

#include "shadowsync/sync/sync_rule.hpp"

namespace shadowsync {

enum class SyncScheduleKind { Shadow, Foreground, Independent, SharedReplica };

struct SyncMethod {
  SyncRuleKind rule = SyncRuleKind::MA;  // unused by Independent and SharedReplica
  SyncScheduleKind schedule = SyncScheduleKind::Shadow;

  // The ten named methods.
  static const SyncMethod ShadowPA, ShadowMA, ShadowEASGD, ShadowBMUF, ForegroundPA, ForegroundMA,
      ForegroundEASGD, ForegroundBMUF, None, Hogwild;

  // By name; Error naming the field `sync` and listing the valid names otherwise.
  static SyncMethod parse(std::string_view name);
  std::string name() const;
  // "s-ma, s-easgd, ..." for help texts and error messages.
  static std::string choices();

  bool shadow() const { return schedule == SyncScheduleKind::Shadow; }
  bool foreground() const { return schedule == SyncScheduleKind::Foreground; }
  // Whether a SyncRule runs at all (shadow or foreground).
  bool uses_rule() const { return shadow() || foreground(); }
  // Whether the rule keeps a center copy (EASGD), whose quality is reported too.
  bool has_center() const { return uses_rule() && rule == SyncRuleKind::EASGD; }
  // One replica for every group (SharedReplica), else one per group.
  int replicas(int groups) const { return schedule == SyncScheduleKind::SharedReplica ? 1 : groups; }

  friend bool operator==(const SyncMethod& a, const SyncMethod& b) {
    // Methods without a rule are equal whatever their (unused) rule field says.
    return a.schedule == b.schedule && (!a.uses_rule() || a.rule == b.rule);
  }
};

inline const SyncMethod SyncMethod::ShadowPA{SyncRuleKind::PA, SyncScheduleKind::Shadow};
inline const SyncMethod SyncMethod::ForegroundPA{SyncRuleKind::PA, SyncScheduleKind::Foreground};
inline const SyncMethod SyncMethod::ShadowMA{SyncRuleKind::MA, SyncScheduleKind::Shadow};
inline const SyncMethod SyncMethod::ShadowEASGD{SyncRuleKind::EASGD, SyncScheduleKind::Shadow};
inline const SyncMethod SyncMethod::ShadowBMUF{SyncRuleKind::BMUF, SyncScheduleKind::Shadow};
inline const SyncMethod SyncMethod::ForegroundMA{SyncRuleKind::MA, SyncScheduleKind::Foreground};
inline const SyncMethod SyncMethod::ForegroundEASGD{SyncRuleKind::EASGD, SyncScheduleKind::Foreground};
inline const SyncMethod SyncMethod::ForegroundBMUF{SyncRuleKind::BMUF, SyncScheduleKind::Foreground};
inline const SyncMethod SyncMethod::None{SyncRuleKind::MA, SyncScheduleKind::Independent};
inline const SyncMethod SyncMethod::Hogwild{SyncRuleKind::MA, SyncScheduleKind::SharedReplica};

}  // namespace shadowsync
