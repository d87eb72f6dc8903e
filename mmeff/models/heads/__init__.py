from .empssl_head import EMPSSLHead

__all__ = ['EMPSSLHead']
