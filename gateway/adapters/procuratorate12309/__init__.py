"""Procuratorate 12309 (检察服务中心): complaints and public-interest clues in; handling result out."""
