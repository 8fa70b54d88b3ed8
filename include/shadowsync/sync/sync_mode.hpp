// SyncMode: how the trainer groups' dense replicas are kept together. The paper's shadow
// (background) rules, its foreground baselines, and the two extremes (none, hogwild).
#pragma once

#include <string>
#include <string_view>

namespace shadowsync {

enum class SyncMode {
  ShadowMA,         // s-ma: background model averaging
  ShadowEASGD,      // s-easgd: background elastic averaging against a center copy
  ShadowBMUF,       // s-bmuf: background block-wise model update filtering
  ForegroundMA,     // fr-ma: every k iterations all workers meet at a barrier and average
  ForegroundEASGD,  // fr-easgd: every k iterations each group exchanges with the center
  ForegroundBMUF,   // fr-bmuf: every k iterations a barrier and a BMUF step
  None,             // independent replicas, averaged once at the end
  Hogwild,          // one replica shared by every worker of every group
};

// Parses a --sync value (s-ma, s-easgd, s-bmuf, fr-ma, fr-easgd, fr-bmuf, none, hogwild).
// Throws Error naming --sync and listing the valid values.
SyncMode parse_sync_mode(std::string_view text);
std::string sync_mode_name(SyncMode mode);
// "s-ma, s-easgd, ..." for help texts and error messages.
std::string sync_mode_choices();

bool is_shadow(SyncMode mode);
bool is_foreground(SyncMode mode);

}  // namespace shadowsync
