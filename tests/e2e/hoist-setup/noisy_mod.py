print("noisy_mod imported")
