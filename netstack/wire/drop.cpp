#include "netstack/wire/drop.hpp"

namespace ferry::wire {

const char* drop_name(Drop d) {
  switch (d) {
#define FERRY_X(name) \
  case Drop::name:    \
    return #name;
    FERRY_DROP_REASONS(FERRY_X)
#undef FERRY_X
    case Drop::count_: break;
  }
  return "unknown";
}

}  // namespace ferry::wire
