#include "tpeer-probe/tpeer_probe.hpp"

int main(int argc, char** argv) { return tpeer_probe::tpeer_probe_main(argc, argv); }
