#include "tnode/tnode.hpp"

int main(int argc, char** argv) { return tnode::tnode_main(argc, argv); }
