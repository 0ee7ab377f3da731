// The one translation unit that holds Asio's implementation
// (BOOST_ASIO_SEPARATE_COMPILATION is set for every user of micq_asio).
#include <boost/asio/impl/src.hpp>
