"""12345 government service hotline (双线融合): work orders, urges and ratings in; status out."""
