#include "tchain/tchain.hpp"

int main(int argc, char** argv) { return tchain::tchain_main(argc, argv); }
