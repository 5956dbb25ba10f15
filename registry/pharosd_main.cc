// pharosd: one member of a Pharos cluster. See `pharosd --help`.
#include "registry/pharosd_run.h"

int main(int argc, char** argv) { return pharos::registry::RunPharosd(argc, argv); }
