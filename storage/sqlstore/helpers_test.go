package sqlstore

import "hearth/sasl"

func credentialsFixture() sasl.Credentials {
	k := sasl.SCRAMKey{Salt: []byte("salt"), Iterations: 4096, StoredKey: []byte("stored"), ServerKey: []byte("server")}
	return sasl.Credentials{SHA1: k, SHA256: k}
}
