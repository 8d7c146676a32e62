#include "tgenesis/tgenesis.hpp"

int main(int argc, char** argv) { return tgenesis::tgenesis_main(argc, argv); }
